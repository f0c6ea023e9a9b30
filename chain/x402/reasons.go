package x402

// Reason codes of a failed verification (VerifyResponse.InvalidReason) and
// settlement (SettleResponse.ErrorReason), each the reference's exact
// string (see doc.go for where each comes from).
const (
	// Generic codes of the spec (§9), for what no scheme implementation
	// answers: the reference facilitator throws there instead.
	ReasonInvalidNetwork      = "invalid_network"
	ReasonUnsupportedScheme   = "unsupported_scheme"
	ReasonInvalidX402Version  = "invalid_x402_version"
	ReasonInvalidPayload      = "invalid_payload"
	ReasonInvalidRequirements = "invalid_payment_requirements"

	// Exact EVM (EIP-3009) codes, from the TypeScript errors.ts and the Go
	// errors.go, which agree on these.
	ReasonInvalidScheme           = "invalid_exact_evm_scheme"
	ReasonNetworkMismatch         = "invalid_exact_evm_network_mismatch"
	ReasonInvalidExactPayload     = "invalid_exact_evm_payload"
	ReasonMissingSignature        = "invalid_exact_evm_payload_missing_signature"
	ReasonMissingEIP712Domain     = "invalid_exact_evm_missing_eip712_domain"
	ReasonRecipientMismatch       = "invalid_exact_evm_recipient_mismatch"
	ReasonInvalidSignature        = "invalid_exact_evm_signature"
	ReasonValidBeforeExpired      = "invalid_exact_evm_payload_authorization_valid_before"
	ReasonValidAfterInFuture      = "invalid_exact_evm_payload_authorization_valid_after"
	ReasonAuthorizationValue      = "invalid_exact_evm_authorization_value"
	ReasonUndeployedSmartWallet   = "invalid_exact_evm_payload_undeployed_smart_wallet"
	ReasonTokenNameMismatch       = "invalid_exact_evm_token_name_mismatch"
	ReasonTokenVersionMismatch    = "invalid_exact_evm_token_version_mismatch"
	ReasonNonceAlreadyUsed        = "invalid_exact_evm_nonce_already_used"
	ReasonInsufficientBalance     = "invalid_exact_evm_insufficient_balance"
	ReasonTransactionFailed       = "invalid_exact_evm_transaction_failed"
	ReasonFailedToCheckNonce      = "invalid_exact_evm_failed_to_check_nonce"
	ReasonFailedToGetBalance      = "invalid_exact_evm_failed_to_get_balance"
	ReasonFailedToVerifySignature = "invalid_exact_evm_failed_to_verify_signature"
	ReasonEIP3009SimulationFailed = "invalid_exact_evm_transaction_simulation_failed"
	ReasonInvalidTransactionState = "invalid_transaction_state"
	ReasonFailedToExecuteTransfer = "invalid_exact_evm_failed_to_execute_transfer"
)
