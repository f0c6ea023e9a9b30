// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice The EIP-3009 calls the batcher makes: both overloads of
/// transferWithAuthorization, as USDC (FiatToken v2.2) and TestUSDC have
/// them.
interface IERC3009 {
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;
}

/// @title AuthorizationBatcher
/// @notice Executes many signed EIP-3009 transferWithAuthorizations of one
/// token in one transaction: the x402 facilitator's batched settlement. Each
/// entry runs in its own try/catch, so one bad entry (a nonce used in the
/// meantime, an expired or underfunded authorization) fails alone, and an
/// event per entry tells its outcome: AuthorizationSettled or
/// AuthorizationFailed with the token's revert data.
/// @dev Anyone may call settle. transferWithAuthorization is itself callable
/// by anyone holding the signed authorization, which alone decides payer,
/// payee and amount; the batcher holds no funds, no allowances and no
/// role, so a caller can do nothing through it that it could not do by
/// calling the token directly. A role check would cost gas per batch and
/// protect nothing.
///
/// A 65-byte signature is split and sent to the (v, r, s) overload, which
/// every EIP-3009 token has (v 0/1 raised to 27/28, as the x402 reference
/// does); any other length goes to the bytes overload, which FiatToken
/// v2.2 and TestUSDC check with ERC-1271 for contract wallets.
///
/// Each entry gets at most ENTRY_GAS_MAX, and settle reverts as a whole
/// (OutOfGasForEntry) when less than ENTRY_GAS_RESERVE is left before an
/// entry: an entry never fails for want of the transaction's gas. That
/// also keeps eth_estimateGas honest: without the check the lowest gas
/// limit that does not revert would be one where the last entries fail
/// (caught) out of gas.
///
/// NB: the token is trusted to return little revert data (a token is the
/// facilitator's choice, and USDC's errors are short strings); the reason
/// of a failed entry is copied into its event.
contract AuthorizationBatcher {
    /// @notice One signed authorization: the EIP-3009 message and its
    /// signature, 65 bytes (r, s, v) or an ERC-1271 wallet's.
    struct Authorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
        bytes signature;
    }

    /// @notice The most gas one entry may use: a transferWithAuthorization
    /// to a payee holding none of the token, and an ERC-1271 wallet's check,
    /// fit (TestAuthorizationBatcherGas measures the first).
    uint256 public constant ENTRY_GAS_MAX = 400_000;

    /// @notice What must be left before an entry: its gas, what the 63/64
    /// rule keeps back, and the event.
    uint256 public constant ENTRY_GAS_RESERVE = ENTRY_GAS_MAX + ENTRY_GAS_MAX / 63 + 20_000;

    event AuthorizationSettled(address indexed token, address indexed from, bytes32 indexed nonce);
    event AuthorizationFailed(address indexed token, address indexed from, bytes32 indexed nonce, bytes reason);

    error OutOfGasForEntry(uint256 index, uint256 gasLeft);

    /// @notice Executes each authorization on token, in order; returns how
    /// many settled.
    function settle(address token, Authorization[] calldata list) external returns (uint256 settled) {
        IERC3009 t = IERC3009(token);
        for (uint256 i = 0; i < list.length; i++) {
            if (gasleft() < ENTRY_GAS_RESERVE) {
                revert OutOfGasForEntry(i, gasleft());
            }
            Authorization calldata a = list[i];
            if (_execute(t, a)) {
                settled++;
            }
        }
    }

    /// @dev One entry: its call, its event.
    function _execute(IERC3009 t, Authorization calldata a) private returns (bool) {
        bytes calldata signature = a.signature;
        if (signature.length == 65) {
            bytes32 r = bytes32(signature[0:32]);
            bytes32 s = bytes32(signature[32:64]);
            uint8 v = uint8(signature[64]);
            if (v < 27) {
                v += 27;
            }
            try t.transferWithAuthorization{gas: ENTRY_GAS_MAX}(
                a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, v, r, s
            ) {
                emit AuthorizationSettled(address(t), a.from, a.nonce);
                return true;
            } catch (bytes memory reason) {
                emit AuthorizationFailed(address(t), a.from, a.nonce, reason);
                return false;
            }
        }
        try t.transferWithAuthorization{gas: ENTRY_GAS_MAX}(
            a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, signature
        ) {
            emit AuthorizationSettled(address(t), a.from, a.nonce);
            return true;
        } catch (bytes memory reason) {
            emit AuthorizationFailed(address(t), a.from, a.nonce, reason);
            return false;
        }
    }
}
