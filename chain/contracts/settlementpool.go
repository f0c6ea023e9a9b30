// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package contracts

import (
	"bytes"
	"errors"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = bytes.Equal
	_ = errors.New
	_ = big.NewInt
	_ = common.Big1
	_ = types.BloomLookup
	_ = abi.ConvertType
)

// SettlementPoolEntry is an auto generated low-level Go binding around an user-defined struct.
type SettlementPoolEntry struct {
	From   common.Address
	To     common.Address
	Amount *big.Int
	Fee    *big.Int
}

// SettlementPoolMetaData contains all meta data concerning the SettlementPool contract.
var SettlementPoolMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"address\",\"name\":\"usdc_\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"feeRecipient_\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"relayer\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"admin\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"withdrawalDelay_\",\"type\":\"uint256\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[],\"name\":\"AccessControlBadConfirmation\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"internalType\":\"bytes32\",\"name\":\"neededRole\",\"type\":\"bytes32\"}],\"name\":\"AccessControlUnauthorizedAccount\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"batchId\",\"type\":\"bytes32\"}],\"name\":\"BatchAlreadySettled\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"EmptyBatch\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"EnforcedPause\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ExpectedPause\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"index\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"fee\",\"type\":\"uint256\"}],\"name\":\"FeeAboveAmount\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"balance\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"needed\",\"type\":\"uint256\"}],\"name\":\"InsufficientPoolBalance\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"NoPendingWithdrawal\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ReentrancyGuardReentrantCall\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"token\",\"type\":\"address\"}],\"name\":\"SafeERC20FailedOperation\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"delay\",\"type\":\"uint256\"}],\"name\":\"WithdrawalDelayOutOfRange\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"availableAt\",\"type\":\"uint256\"}],\"name\":\"WithdrawalNotYetAvailable\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroAddress\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroAmount\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"batchId\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"entries\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"total\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"fees\",\"type\":\"uint256\"}],\"name\":\"BatchSettled\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"payer\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"Deposited\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"batchId\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"from\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"fee\",\"type\":\"uint256\"}],\"name\":\"EntrySettled\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"previousRecipient\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"newRecipient\",\"type\":\"address\"}],\"name\":\"FeeRecipientChanged\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":false,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"Paused\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"previousAdminRole\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"newAdminRole\",\"type\":\"bytes32\"}],\"name\":\"RoleAdminChanged\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"sender\",\"type\":\"address\"}],\"name\":\"RoleGranted\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"sender\",\"type\":\"address\"}],\"name\":\"RoleRevoked\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":false,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"Unpaused\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"availableAt\",\"type\":\"uint256\"}],\"name\":\"WithdrawalRequested\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"Withdrawn\",\"type\":\"event\"},{\"inputs\":[],\"name\":\"DEFAULT_ADMIN_ROLE\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"RELAYER_ROLE\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"WITHDRAWAL_DELAY_MAX\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"balanceOf\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"deposit\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"depositFor\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"feeRecipient\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"finalizeWithdrawal\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"}],\"name\":\"getRoleAdmin\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"grantRole\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"hasRole\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"pause\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"paused\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"pendingWithdrawal\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"availableAt\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"callerConfirmation\",\"type\":\"address\"}],\"name\":\"renounceRole\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"requestWithdrawal\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"revokeRole\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"newRecipient\",\"type\":\"address\"}],\"name\":\"setFeeRecipient\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"batchId\",\"type\":\"bytes32\"},{\"components\":[{\"internalType\":\"address\",\"name\":\"from\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"fee\",\"type\":\"uint256\"}],\"internalType\":\"structSettlementPool.Entry[]\",\"name\":\"entries\",\"type\":\"tuple[]\"}],\"name\":\"settleBatch\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"name\":\"settled\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes4\",\"name\":\"interfaceId\",\"type\":\"bytes4\"}],\"name\":\"supportsInterface\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"totalBalances\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"unpause\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"usdc\",\"outputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"withdrawalDelay\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"}]",
	ID:  "SettlementPool",
	Bin: "0x60c060405234801561000f575f5ffd5b5060405161156438038061156483398101604081905261002e91610241565b60017f9b779b17422d0df92223018b32b4d1fa46e071723d6817e2486d003becc55f00556001600160a01b038516158061006f57506001600160a01b038416155b8061008157506001600160a01b038316155b8061009357506001600160a01b038216155b156100b15760405163d92e233d60e01b815260040160405180910390fd5b8015806100c0575062278d0081115b156100e5576040516356a992c960e11b81526004810182905260240160405180910390fd5b6001600160a01b0385811660805260a082905260018054610100600160a81b0319166101009287169283021790556040515f907f0bc21fe5c3ab742ff1d15b5c4477ffbacf1167e618228078fa625edebe7f331d908290a36101475f8361017d565b506101727fe2b7fb3b832174769106daebcfd6d1970523240dda11281102db9363b83b0dc48461017d565b50505050505061029b565b5f828152602081815260408083206001600160a01b038516845290915281205460ff1661021d575f838152602081815260408083206001600160a01b03861684529091529020805460ff191660011790556101d53390565b6001600160a01b0316826001600160a01b0316847f2f8788117e7eff1d82e926ec794901d17c78024a50270940304540a733656f0d60405160405180910390a4506001610220565b505f5b92915050565b80516001600160a01b038116811461023c575f5ffd5b919050565b5f5f5f5f5f60a08688031215610255575f5ffd5b61025e86610226565b945061026c60208701610226565b935061027a60408701610226565b925061028860608701610226565b9150608086015190509295509295909350565b60805160a0516112856102df5f395f8181610361015261058201525f8181610263015281816108f10152818161099401528181610b0c0152610d6401526112855ff3fe608060405234801561000f575f5ffd5b506004361061016d575f3560e01c80638456cb59116100d9578063a7ab696111610093578063c5b6aa2f1161006e578063c5b6aa2f146103ab578063d547741f146103b3578063d945af1d146103c6578063e74b981b146103e8575f5ffd5b8063a7ab69611461035f578063b6b55f2514610385578063c2fb4a8314610398575f5ffd5b80638456cb59146102fa57806391d1485414610302578063926d7d7f146103155780639ee679e81461033c578063a217fddf1461034f578063a69a2ad114610356575f5ffd5b80633e413bee1161012a5780633e413bee1461025e5780633f4ba83a1461029d57806346904840146102a55780635c975abb146102bd57806370a08231146102c85780637a21247b146102f0575f5ffd5b806301ffc9a7146101715780630964c95b14610199578063248a9ca3146101f35780632f2ff15d146102235780632f4f21e21461023857806336568abe1461024b575b5f5ffd5b61018461017f36600461109c565b6103fb565b60405190151581526020015b60405180910390f35b6101de6101a73660046110e5565b6001600160a01b03165f90815260046020908152604091829020825180840190935280548084526001909101549290910182905291565b60408051928352602083019190915201610190565b6102156102013660046110fe565b5f9081526020819052604090206001015490565b604051908152602001610190565b610236610231366004611115565b610431565b005b61023661024636600461113f565b61045b565b610236610259366004611115565b610490565b6102857f000000000000000000000000000000000000000000000000000000000000000081565b6040516001600160a01b039091168152602001610190565b6102366104c8565b6001546102859061010090046001600160a01b031681565b60015460ff16610184565b6102156102d63660046110e5565b6001600160a01b03165f9081526003602052604090205490565b61021562278d0081565b6102366104dd565b610184610310366004611115565b6104ef565b6102157fe2b7fb3b832174769106daebcfd6d1970523240dda11281102db9363b83b0dc481565b61023661034a3660046110fe565b610517565b6102155f81565b61021560025481565b7f0000000000000000000000000000000000000000000000000000000000000000610215565b6102366103933660046110fe565b610615565b6102366103a6366004611167565b61061f565b6102366109da565b6102366103c1366004611115565b610b4e565b6101846103d43660046110fe565b60056020525f908152604090205460ff1681565b6102366103f63660046110e5565b610b72565b5f6001600160e01b03198216637965db0b60e01b148061042b57506301ffc9a760e01b6001600160e01b03198316145b92915050565b5f8281526020819052604090206001015461044b81610c0a565b6104558383610c14565b50505050565b6001600160a01b0382166104825760405163d92e233d60e01b815260040160405180910390fd5b61048c8282610ca3565b5050565b6001600160a01b03811633146104b95760405163334bd91960e11b815260040160405180910390fd5b6104c38282610da2565b505050565b5f6104d281610c0a565b6104da610e0b565b50565b5f6104e781610c0a565b6104da610e5d565b5f918252602082815260408084206001600160a01b0393909316845291905290205460ff1690565b805f0361053757604051631f2a200560e01b815260040160405180910390fd5b335f908152600360205260409020548082111561057c5760405163bac59adb60e01b815233600482015260248101829052604481018390526064015b60405180910390fd5b5f6105a77f0000000000000000000000000000000000000000000000000000000000000000426111f5565b6040805180820182528581526020808201848152335f818152600484528590209351845590516001909301929092558251878152908101849052929350917f24b91f4f47caf44230a57777a9be744924e82bf666f2d5702faf97df35e60f9f910160405180910390a2505050565b6104da3382610ca3565b7fe2b7fb3b832174769106daebcfd6d1970523240dda11281102db9363b83b0dc461064981610c0a565b610651610e98565b610659610ebc565b5f8481526005602052604090205460ff161561068b57604051633f0af2bb60e21b815260048101859052602401610573565b5f8290036106ac5760405163c2e5347d60e01b815260040160405180910390fd5b5f848152600560205260408120805460ff1916600117905580805b8481101561092357368686838181106106e2576106e2611208565b905060800201905080604001358160600135111561072a5760408051634fcdb2c360e11b81526004810184905290820135602482015260608201356044820152606401610573565b5f61073b60408301602084016110e5565b6001600160a01b0316036107625760405163d92e233d60e01b815260040160405180910390fd5b5f60038161077360208501856110e5565b6001600160a01b03166001600160a01b031681526020019081526020015f2054905080826040013511156107e3576107ae60208301836110e5565b6040805163bac59adb60e01b81526001600160a01b039092166004830152602482018390528301356044820152606401610573565b6040820135810360035f6107fa60208601866110e5565b6001600160a01b03166001600160a01b031681526020019081526020015f208190555081604001358561082d91906111f5565b945061083d6060830135856111f5565b935061084f60408301602084016110e5565b6001600160a01b031661086560208401846110e5565b6001600160a01b03168a7f6acf6c1b30d9d9dd221a837c79ec4c8102842998a968caeb054f3028bea41e9b856040013586606001356040516108b1929190918252602082015260400190565b60405180910390a45f6108cc6060840135604085013561121c565b90508015610918576109186108e760408501602086016110e5565b6001600160a01b037f0000000000000000000000000000000000000000000000000000000000000000169083610ed7565b5050506001016106c7565b508160025f828254610935919061121c565b9091555050604080518581526020810184905290810182905286907f2f81f9bac26b27e0cb3a4a74f0328065dbe88c74d6fc7fa0e4b071094dc73e139060600160405180910390a280156109c2576001546109c2906001600160a01b037f000000000000000000000000000000000000000000000000000000000000000081169161010090041683610ed7565b505061045560015f5160206112305f395f51905f5255565b6109e2610ebc565b335f908152600460209081526040808320815180830190925280548252600101549181018290529103610a2a5760405163041afc4160e11b8152336004820152602401610573565b8060200151421015610a5757806020015160405163449406b560e01b815260040161057391815260200190565b335f9081526003602052604081205482519091908211610a775781610a7a565b82515b335f908152600460205260408120818155600101559050610a9b818361121c565b335f9081526003602052604081209190915560028054839290610abf90849061121c565b909155505060405181815233907f7084f5476618d8e60b11ef0d7d3f06914655adb8793e28ff7f018d4c76d505d59060200160405180910390a28015610b3357610b336001600160a01b037f0000000000000000000000000000000000000000000000000000000000000000163383610ed7565b505050610b4c60015f5160206112305f395f51905f5255565b565b5f82815260208190526040902060010154610b6881610c0a565b6104558383610da2565b5f610b7c81610c0a565b6001600160a01b038216610ba35760405163d92e233d60e01b815260040160405180910390fd5b6001546040516001600160a01b0380851692610100900416907f0bc21fe5c3ab742ff1d15b5c4477ffbacf1167e618228078fa625edebe7f331d905f90a350600180546001600160a01b0390921661010002610100600160a81b0319909216919091179055565b6104da8133610f0c565b5f610c1f83836104ef565b610c9c575f838152602081815260408083206001600160a01b03861684529091529020805460ff19166001179055610c543390565b6001600160a01b0316826001600160a01b0316847f2f8788117e7eff1d82e926ec794901d17c78024a50270940304540a733656f0d60405160405180910390a450600161042b565b505f61042b565b610cab610e98565b610cb3610ebc565b805f03610cd357604051631f2a200560e01b815260040160405180910390fd5b6001600160a01b0382165f9081526003602052604081208054839290610cfa9084906111f5565b925050819055508060025f828254610d1291906111f5565b909155505060405181815233906001600160a01b038416907f8752a472e571a816aea92eec8dae9baf628e840f4929fbcc2d155e6233ff68a79060200160405180910390a3610d8c6001600160a01b037f000000000000000000000000000000000000000000000000000000000000000016333084610f45565b61048c60015f5160206112305f395f51905f5255565b5f610dad83836104ef565b15610c9c575f838152602081815260408083206001600160a01b0386168085529252808320805460ff1916905551339286917ff6391f5c32d9c69d2a47ea670b442974b53935d1edc7fd64eb21e047a839171b9190a450600161042b565b610e13610f7b565b6001805460ff191690557f5db9ee0a495bf2e6ff9c91a7834c1ba4fdd244a5e8aa4e537bd38aeae4b073aa335b6040516001600160a01b03909116815260200160405180910390a1565b610e65610e98565b6001805460ff1916811790557f62e78cea01bee320cd4e420270b5ea74000d11b0c9f74754ebdbfc544b05a25833610e40565b60015460ff1615610b4c5760405163d93c066560e01b815260040160405180910390fd5b610ec4610f9e565b60025f5160206112305f395f51905f5255565b610ee48383836001610fcd565b6104c357604051635274afe760e01b81526001600160a01b0384166004820152602401610573565b610f1682826104ef565b61048c5760405163e2517d3f60e01b81526001600160a01b038216600482015260248101839052604401610573565b610f5384848484600161102f565b61045557604051635274afe760e01b81526001600160a01b0385166004820152602401610573565b60015460ff16610b4c57604051638dfc202b60e01b815260040160405180910390fd5b5f5160206112305f395f51905f5254600203610b4c57604051633ee5aeb560e01b815260040160405180910390fd5b60405163a9059cbb60e01b5f8181526001600160a01b038616600452602485905291602083604481808b5af1925060015f51148316611023578383151615611017573d5f823e3d81fd5b5f873b113d1516831692505b60405250949350505050565b6040516323b872dd60e01b5f8181526001600160a01b038781166004528616602452604485905291602083606481808c5af1925060015f5114831661108b57838315161561107f573d5f823e3d81fd5b5f883b113d1516831692505b604052505f60605295945050505050565b5f602082840312156110ac575f5ffd5b81356001600160e01b0319811681146110c3575f5ffd5b9392505050565b80356001600160a01b03811681146110e0575f5ffd5b919050565b5f602082840312156110f5575f5ffd5b6110c3826110ca565b5f6020828403121561110e575f5ffd5b5035919050565b5f5f60408385031215611126575f5ffd5b82359150611136602084016110ca565b90509250929050565b5f5f60408385031215611150575f5ffd5b611159836110ca565b946020939093013593505050565b5f5f5f60408486031215611179575f5ffd5b83359250602084013567ffffffffffffffff811115611196575f5ffd5b8401601f810186136111a6575f5ffd5b803567ffffffffffffffff8111156111bc575f5ffd5b8660208260071b84010111156111d0575f5ffd5b939660209190910195509293505050565b634e487b7160e01b5f52601160045260245ffd5b8082018082111561042b5761042b6111e1565b634e487b7160e01b5f52603260045260245ffd5b8181038181111561042b5761042b6111e156fe9b779b17422d0df92223018b32b4d1fa46e071723d6817e2486d003becc55f00a2646970667358221220c5307808bde9db72f48765297f4bb1b5dcf83eaf1edb0b7d4957c224343b06fa64736f6c63430008250033",
}

// SettlementPool is an auto generated Go binding around an Ethereum contract.
type SettlementPool struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *SettlementPool) GetABI() abi.ABI {
	return c.abi
}

// NewSettlementPool creates a new instance of SettlementPool.
func NewSettlementPool() *SettlementPool {
	parsed, err := SettlementPoolMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &SettlementPool{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *SettlementPool) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackConstructor is the Go binding used to pack the parameters required for
// contract deployment.
//
// Solidity: constructor(address usdc_, address feeRecipient_, address relayer, address admin, uint256 withdrawalDelay_) returns()
func (settlementPool *SettlementPool) PackConstructor(usdc_ common.Address, feeRecipient_ common.Address, relayer common.Address, admin common.Address, withdrawalDelay_ *big.Int) []byte {
	enc, err := settlementPool.abi.Pack("", usdc_, feeRecipient_, relayer, admin, withdrawalDelay_)
	if err != nil {
		panic(err)
	}
	return enc
}

// PackDEFAULTADMINROLE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa217fddf.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function DEFAULT_ADMIN_ROLE() view returns(bytes32)
func (settlementPool *SettlementPool) PackDEFAULTADMINROLE() []byte {
	enc, err := settlementPool.abi.Pack("DEFAULT_ADMIN_ROLE")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackDEFAULTADMINROLE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa217fddf.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function DEFAULT_ADMIN_ROLE() view returns(bytes32)
func (settlementPool *SettlementPool) TryPackDEFAULTADMINROLE() ([]byte, error) {
	return settlementPool.abi.Pack("DEFAULT_ADMIN_ROLE")
}

// UnpackDEFAULTADMINROLE is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xa217fddf.
//
// Solidity: function DEFAULT_ADMIN_ROLE() view returns(bytes32)
func (settlementPool *SettlementPool) UnpackDEFAULTADMINROLE(data []byte) ([32]byte, error) {
	out, err := settlementPool.abi.Unpack("DEFAULT_ADMIN_ROLE", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackRELAYERROLE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x926d7d7f.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function RELAYER_ROLE() view returns(bytes32)
func (settlementPool *SettlementPool) PackRELAYERROLE() []byte {
	enc, err := settlementPool.abi.Pack("RELAYER_ROLE")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRELAYERROLE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x926d7d7f.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function RELAYER_ROLE() view returns(bytes32)
func (settlementPool *SettlementPool) TryPackRELAYERROLE() ([]byte, error) {
	return settlementPool.abi.Pack("RELAYER_ROLE")
}

// UnpackRELAYERROLE is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x926d7d7f.
//
// Solidity: function RELAYER_ROLE() view returns(bytes32)
func (settlementPool *SettlementPool) UnpackRELAYERROLE(data []byte) ([32]byte, error) {
	out, err := settlementPool.abi.Unpack("RELAYER_ROLE", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackWITHDRAWALDELAYMAX is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x7a21247b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function WITHDRAWAL_DELAY_MAX() view returns(uint256)
func (settlementPool *SettlementPool) PackWITHDRAWALDELAYMAX() []byte {
	enc, err := settlementPool.abi.Pack("WITHDRAWAL_DELAY_MAX")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackWITHDRAWALDELAYMAX is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x7a21247b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function WITHDRAWAL_DELAY_MAX() view returns(uint256)
func (settlementPool *SettlementPool) TryPackWITHDRAWALDELAYMAX() ([]byte, error) {
	return settlementPool.abi.Pack("WITHDRAWAL_DELAY_MAX")
}

// UnpackWITHDRAWALDELAYMAX is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x7a21247b.
//
// Solidity: function WITHDRAWAL_DELAY_MAX() view returns(uint256)
func (settlementPool *SettlementPool) UnpackWITHDRAWALDELAYMAX(data []byte) (*big.Int, error) {
	out, err := settlementPool.abi.Unpack("WITHDRAWAL_DELAY_MAX", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackBalanceOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x70a08231.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function balanceOf(address account) view returns(uint256)
func (settlementPool *SettlementPool) PackBalanceOf(account common.Address) []byte {
	enc, err := settlementPool.abi.Pack("balanceOf", account)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackBalanceOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x70a08231.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function balanceOf(address account) view returns(uint256)
func (settlementPool *SettlementPool) TryPackBalanceOf(account common.Address) ([]byte, error) {
	return settlementPool.abi.Pack("balanceOf", account)
}

// UnpackBalanceOf is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x70a08231.
//
// Solidity: function balanceOf(address account) view returns(uint256)
func (settlementPool *SettlementPool) UnpackBalanceOf(data []byte) (*big.Int, error) {
	out, err := settlementPool.abi.Unpack("balanceOf", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackDeposit is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xb6b55f25.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function deposit(uint256 amount) returns()
func (settlementPool *SettlementPool) PackDeposit(amount *big.Int) []byte {
	enc, err := settlementPool.abi.Pack("deposit", amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackDeposit is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xb6b55f25.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function deposit(uint256 amount) returns()
func (settlementPool *SettlementPool) TryPackDeposit(amount *big.Int) ([]byte, error) {
	return settlementPool.abi.Pack("deposit", amount)
}

// PackDepositFor is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2f4f21e2.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function depositFor(address account, uint256 amount) returns()
func (settlementPool *SettlementPool) PackDepositFor(account common.Address, amount *big.Int) []byte {
	enc, err := settlementPool.abi.Pack("depositFor", account, amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackDepositFor is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2f4f21e2.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function depositFor(address account, uint256 amount) returns()
func (settlementPool *SettlementPool) TryPackDepositFor(account common.Address, amount *big.Int) ([]byte, error) {
	return settlementPool.abi.Pack("depositFor", account, amount)
}

// PackFeeRecipient is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x46904840.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function feeRecipient() view returns(address)
func (settlementPool *SettlementPool) PackFeeRecipient() []byte {
	enc, err := settlementPool.abi.Pack("feeRecipient")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackFeeRecipient is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x46904840.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function feeRecipient() view returns(address)
func (settlementPool *SettlementPool) TryPackFeeRecipient() ([]byte, error) {
	return settlementPool.abi.Pack("feeRecipient")
}

// UnpackFeeRecipient is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x46904840.
//
// Solidity: function feeRecipient() view returns(address)
func (settlementPool *SettlementPool) UnpackFeeRecipient(data []byte) (common.Address, error) {
	out, err := settlementPool.abi.Unpack("feeRecipient", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackFinalizeWithdrawal is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc5b6aa2f.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function finalizeWithdrawal() returns()
func (settlementPool *SettlementPool) PackFinalizeWithdrawal() []byte {
	enc, err := settlementPool.abi.Pack("finalizeWithdrawal")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackFinalizeWithdrawal is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc5b6aa2f.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function finalizeWithdrawal() returns()
func (settlementPool *SettlementPool) TryPackFinalizeWithdrawal() ([]byte, error) {
	return settlementPool.abi.Pack("finalizeWithdrawal")
}

// PackGetRoleAdmin is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x248a9ca3.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function getRoleAdmin(bytes32 role) view returns(bytes32)
func (settlementPool *SettlementPool) PackGetRoleAdmin(role [32]byte) []byte {
	enc, err := settlementPool.abi.Pack("getRoleAdmin", role)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackGetRoleAdmin is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x248a9ca3.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function getRoleAdmin(bytes32 role) view returns(bytes32)
func (settlementPool *SettlementPool) TryPackGetRoleAdmin(role [32]byte) ([]byte, error) {
	return settlementPool.abi.Pack("getRoleAdmin", role)
}

// UnpackGetRoleAdmin is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x248a9ca3.
//
// Solidity: function getRoleAdmin(bytes32 role) view returns(bytes32)
func (settlementPool *SettlementPool) UnpackGetRoleAdmin(data []byte) ([32]byte, error) {
	out, err := settlementPool.abi.Unpack("getRoleAdmin", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackGrantRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2f2ff15d.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function grantRole(bytes32 role, address account) returns()
func (settlementPool *SettlementPool) PackGrantRole(role [32]byte, account common.Address) []byte {
	enc, err := settlementPool.abi.Pack("grantRole", role, account)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackGrantRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2f2ff15d.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function grantRole(bytes32 role, address account) returns()
func (settlementPool *SettlementPool) TryPackGrantRole(role [32]byte, account common.Address) ([]byte, error) {
	return settlementPool.abi.Pack("grantRole", role, account)
}

// PackHasRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x91d14854.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function hasRole(bytes32 role, address account) view returns(bool)
func (settlementPool *SettlementPool) PackHasRole(role [32]byte, account common.Address) []byte {
	enc, err := settlementPool.abi.Pack("hasRole", role, account)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackHasRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x91d14854.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function hasRole(bytes32 role, address account) view returns(bool)
func (settlementPool *SettlementPool) TryPackHasRole(role [32]byte, account common.Address) ([]byte, error) {
	return settlementPool.abi.Pack("hasRole", role, account)
}

// UnpackHasRole is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x91d14854.
//
// Solidity: function hasRole(bytes32 role, address account) view returns(bool)
func (settlementPool *SettlementPool) UnpackHasRole(data []byte) (bool, error) {
	out, err := settlementPool.abi.Unpack("hasRole", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackPause is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8456cb59.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function pause() returns()
func (settlementPool *SettlementPool) PackPause() []byte {
	enc, err := settlementPool.abi.Pack("pause")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackPause is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8456cb59.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function pause() returns()
func (settlementPool *SettlementPool) TryPackPause() ([]byte, error) {
	return settlementPool.abi.Pack("pause")
}

// PackPaused is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5c975abb.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function paused() view returns(bool)
func (settlementPool *SettlementPool) PackPaused() []byte {
	enc, err := settlementPool.abi.Pack("paused")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackPaused is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5c975abb.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function paused() view returns(bool)
func (settlementPool *SettlementPool) TryPackPaused() ([]byte, error) {
	return settlementPool.abi.Pack("paused")
}

// UnpackPaused is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x5c975abb.
//
// Solidity: function paused() view returns(bool)
func (settlementPool *SettlementPool) UnpackPaused(data []byte) (bool, error) {
	out, err := settlementPool.abi.Unpack("paused", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackPendingWithdrawal is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x0964c95b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function pendingWithdrawal(address account) view returns(uint256 amount, uint256 availableAt)
func (settlementPool *SettlementPool) PackPendingWithdrawal(account common.Address) []byte {
	enc, err := settlementPool.abi.Pack("pendingWithdrawal", account)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackPendingWithdrawal is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x0964c95b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function pendingWithdrawal(address account) view returns(uint256 amount, uint256 availableAt)
func (settlementPool *SettlementPool) TryPackPendingWithdrawal(account common.Address) ([]byte, error) {
	return settlementPool.abi.Pack("pendingWithdrawal", account)
}

// PendingWithdrawalOutput serves as a container for the return parameters of contract
// method PendingWithdrawal.
type PendingWithdrawalOutput struct {
	Amount      *big.Int
	AvailableAt *big.Int
}

// UnpackPendingWithdrawal is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x0964c95b.
//
// Solidity: function pendingWithdrawal(address account) view returns(uint256 amount, uint256 availableAt)
func (settlementPool *SettlementPool) UnpackPendingWithdrawal(data []byte) (PendingWithdrawalOutput, error) {
	out, err := settlementPool.abi.Unpack("pendingWithdrawal", data)
	outstruct := new(PendingWithdrawalOutput)
	if err != nil {
		return *outstruct, err
	}
	outstruct.Amount = abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	outstruct.AvailableAt = abi.ConvertType(out[1], new(big.Int)).(*big.Int)
	return *outstruct, nil
}

// PackRenounceRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x36568abe.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function renounceRole(bytes32 role, address callerConfirmation) returns()
func (settlementPool *SettlementPool) PackRenounceRole(role [32]byte, callerConfirmation common.Address) []byte {
	enc, err := settlementPool.abi.Pack("renounceRole", role, callerConfirmation)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRenounceRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x36568abe.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function renounceRole(bytes32 role, address callerConfirmation) returns()
func (settlementPool *SettlementPool) TryPackRenounceRole(role [32]byte, callerConfirmation common.Address) ([]byte, error) {
	return settlementPool.abi.Pack("renounceRole", role, callerConfirmation)
}

// PackRequestWithdrawal is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x9ee679e8.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function requestWithdrawal(uint256 amount) returns()
func (settlementPool *SettlementPool) PackRequestWithdrawal(amount *big.Int) []byte {
	enc, err := settlementPool.abi.Pack("requestWithdrawal", amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRequestWithdrawal is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x9ee679e8.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function requestWithdrawal(uint256 amount) returns()
func (settlementPool *SettlementPool) TryPackRequestWithdrawal(amount *big.Int) ([]byte, error) {
	return settlementPool.abi.Pack("requestWithdrawal", amount)
}

// PackRevokeRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xd547741f.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function revokeRole(bytes32 role, address account) returns()
func (settlementPool *SettlementPool) PackRevokeRole(role [32]byte, account common.Address) []byte {
	enc, err := settlementPool.abi.Pack("revokeRole", role, account)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRevokeRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xd547741f.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function revokeRole(bytes32 role, address account) returns()
func (settlementPool *SettlementPool) TryPackRevokeRole(role [32]byte, account common.Address) ([]byte, error) {
	return settlementPool.abi.Pack("revokeRole", role, account)
}

// PackSetFeeRecipient is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe74b981b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function setFeeRecipient(address newRecipient) returns()
func (settlementPool *SettlementPool) PackSetFeeRecipient(newRecipient common.Address) []byte {
	enc, err := settlementPool.abi.Pack("setFeeRecipient", newRecipient)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSetFeeRecipient is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe74b981b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function setFeeRecipient(address newRecipient) returns()
func (settlementPool *SettlementPool) TryPackSetFeeRecipient(newRecipient common.Address) ([]byte, error) {
	return settlementPool.abi.Pack("setFeeRecipient", newRecipient)
}

// PackSettleBatch is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc2fb4a83.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function settleBatch(bytes32 batchId, (address,address,uint256,uint256)[] entries) returns()
func (settlementPool *SettlementPool) PackSettleBatch(batchId [32]byte, entries []SettlementPoolEntry) []byte {
	enc, err := settlementPool.abi.Pack("settleBatch", batchId, entries)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSettleBatch is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc2fb4a83.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function settleBatch(bytes32 batchId, (address,address,uint256,uint256)[] entries) returns()
func (settlementPool *SettlementPool) TryPackSettleBatch(batchId [32]byte, entries []SettlementPoolEntry) ([]byte, error) {
	return settlementPool.abi.Pack("settleBatch", batchId, entries)
}

// PackSettled is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xd945af1d.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function settled(bytes32 ) view returns(bool)
func (settlementPool *SettlementPool) PackSettled(arg0 [32]byte) []byte {
	enc, err := settlementPool.abi.Pack("settled", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSettled is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xd945af1d.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function settled(bytes32 ) view returns(bool)
func (settlementPool *SettlementPool) TryPackSettled(arg0 [32]byte) ([]byte, error) {
	return settlementPool.abi.Pack("settled", arg0)
}

// UnpackSettled is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xd945af1d.
//
// Solidity: function settled(bytes32 ) view returns(bool)
func (settlementPool *SettlementPool) UnpackSettled(data []byte) (bool, error) {
	out, err := settlementPool.abi.Unpack("settled", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackSupportsInterface is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x01ffc9a7.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function supportsInterface(bytes4 interfaceId) view returns(bool)
func (settlementPool *SettlementPool) PackSupportsInterface(interfaceId [4]byte) []byte {
	enc, err := settlementPool.abi.Pack("supportsInterface", interfaceId)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSupportsInterface is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x01ffc9a7.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function supportsInterface(bytes4 interfaceId) view returns(bool)
func (settlementPool *SettlementPool) TryPackSupportsInterface(interfaceId [4]byte) ([]byte, error) {
	return settlementPool.abi.Pack("supportsInterface", interfaceId)
}

// UnpackSupportsInterface is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x01ffc9a7.
//
// Solidity: function supportsInterface(bytes4 interfaceId) view returns(bool)
func (settlementPool *SettlementPool) UnpackSupportsInterface(data []byte) (bool, error) {
	out, err := settlementPool.abi.Unpack("supportsInterface", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackTotalBalances is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa69a2ad1.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function totalBalances() view returns(uint256)
func (settlementPool *SettlementPool) PackTotalBalances() []byte {
	enc, err := settlementPool.abi.Pack("totalBalances")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackTotalBalances is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa69a2ad1.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function totalBalances() view returns(uint256)
func (settlementPool *SettlementPool) TryPackTotalBalances() ([]byte, error) {
	return settlementPool.abi.Pack("totalBalances")
}

// UnpackTotalBalances is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xa69a2ad1.
//
// Solidity: function totalBalances() view returns(uint256)
func (settlementPool *SettlementPool) UnpackTotalBalances(data []byte) (*big.Int, error) {
	out, err := settlementPool.abi.Unpack("totalBalances", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackUnpause is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3f4ba83a.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function unpause() returns()
func (settlementPool *SettlementPool) PackUnpause() []byte {
	enc, err := settlementPool.abi.Pack("unpause")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackUnpause is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3f4ba83a.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function unpause() returns()
func (settlementPool *SettlementPool) TryPackUnpause() ([]byte, error) {
	return settlementPool.abi.Pack("unpause")
}

// PackUsdc is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3e413bee.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function usdc() view returns(address)
func (settlementPool *SettlementPool) PackUsdc() []byte {
	enc, err := settlementPool.abi.Pack("usdc")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackUsdc is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3e413bee.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function usdc() view returns(address)
func (settlementPool *SettlementPool) TryPackUsdc() ([]byte, error) {
	return settlementPool.abi.Pack("usdc")
}

// UnpackUsdc is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x3e413bee.
//
// Solidity: function usdc() view returns(address)
func (settlementPool *SettlementPool) UnpackUsdc(data []byte) (common.Address, error) {
	out, err := settlementPool.abi.Unpack("usdc", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackWithdrawalDelay is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa7ab6961.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function withdrawalDelay() view returns(uint256)
func (settlementPool *SettlementPool) PackWithdrawalDelay() []byte {
	enc, err := settlementPool.abi.Pack("withdrawalDelay")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackWithdrawalDelay is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa7ab6961.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function withdrawalDelay() view returns(uint256)
func (settlementPool *SettlementPool) TryPackWithdrawalDelay() ([]byte, error) {
	return settlementPool.abi.Pack("withdrawalDelay")
}

// UnpackWithdrawalDelay is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xa7ab6961.
//
// Solidity: function withdrawalDelay() view returns(uint256)
func (settlementPool *SettlementPool) UnpackWithdrawalDelay(data []byte) (*big.Int, error) {
	out, err := settlementPool.abi.Unpack("withdrawalDelay", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// SettlementPoolBatchSettled represents a BatchSettled event raised by the SettlementPool contract.
type SettlementPoolBatchSettled struct {
	BatchId [32]byte
	Entries *big.Int
	Total   *big.Int
	Fees    *big.Int
	Raw     *types.Log // Blockchain specific contextual infos
}

const SettlementPoolBatchSettledEventName = "BatchSettled"

// ContractEventName returns the user-defined event name.
func (SettlementPoolBatchSettled) ContractEventName() string {
	return SettlementPoolBatchSettledEventName
}

// UnpackBatchSettledEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event BatchSettled(bytes32 indexed batchId, uint256 entries, uint256 total, uint256 fees)
func (settlementPool *SettlementPool) UnpackBatchSettledEvent(log *types.Log) (*SettlementPoolBatchSettled, error) {
	event := "BatchSettled"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != settlementPool.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(SettlementPoolBatchSettled)
	if len(log.Data) > 0 {
		if err := settlementPool.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range settlementPool.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// SettlementPoolDeposited represents a Deposited event raised by the SettlementPool contract.
type SettlementPoolDeposited struct {
	Account common.Address
	Payer   common.Address
	Amount  *big.Int
	Raw     *types.Log // Blockchain specific contextual infos
}

const SettlementPoolDepositedEventName = "Deposited"

// ContractEventName returns the user-defined event name.
func (SettlementPoolDeposited) ContractEventName() string {
	return SettlementPoolDepositedEventName
}

// UnpackDepositedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Deposited(address indexed account, address indexed payer, uint256 amount)
func (settlementPool *SettlementPool) UnpackDepositedEvent(log *types.Log) (*SettlementPoolDeposited, error) {
	event := "Deposited"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != settlementPool.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(SettlementPoolDeposited)
	if len(log.Data) > 0 {
		if err := settlementPool.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range settlementPool.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// SettlementPoolEntrySettled represents a EntrySettled event raised by the SettlementPool contract.
type SettlementPoolEntrySettled struct {
	BatchId [32]byte
	From    common.Address
	To      common.Address
	Amount  *big.Int
	Fee     *big.Int
	Raw     *types.Log // Blockchain specific contextual infos
}

const SettlementPoolEntrySettledEventName = "EntrySettled"

// ContractEventName returns the user-defined event name.
func (SettlementPoolEntrySettled) ContractEventName() string {
	return SettlementPoolEntrySettledEventName
}

// UnpackEntrySettledEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event EntrySettled(bytes32 indexed batchId, address indexed from, address indexed to, uint256 amount, uint256 fee)
func (settlementPool *SettlementPool) UnpackEntrySettledEvent(log *types.Log) (*SettlementPoolEntrySettled, error) {
	event := "EntrySettled"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != settlementPool.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(SettlementPoolEntrySettled)
	if len(log.Data) > 0 {
		if err := settlementPool.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range settlementPool.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// SettlementPoolFeeRecipientChanged represents a FeeRecipientChanged event raised by the SettlementPool contract.
type SettlementPoolFeeRecipientChanged struct {
	PreviousRecipient common.Address
	NewRecipient      common.Address
	Raw               *types.Log // Blockchain specific contextual infos
}

const SettlementPoolFeeRecipientChangedEventName = "FeeRecipientChanged"

// ContractEventName returns the user-defined event name.
func (SettlementPoolFeeRecipientChanged) ContractEventName() string {
	return SettlementPoolFeeRecipientChangedEventName
}

// UnpackFeeRecipientChangedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event FeeRecipientChanged(address indexed previousRecipient, address indexed newRecipient)
func (settlementPool *SettlementPool) UnpackFeeRecipientChangedEvent(log *types.Log) (*SettlementPoolFeeRecipientChanged, error) {
	event := "FeeRecipientChanged"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != settlementPool.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(SettlementPoolFeeRecipientChanged)
	if len(log.Data) > 0 {
		if err := settlementPool.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range settlementPool.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// SettlementPoolPaused represents a Paused event raised by the SettlementPool contract.
type SettlementPoolPaused struct {
	Account common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const SettlementPoolPausedEventName = "Paused"

// ContractEventName returns the user-defined event name.
func (SettlementPoolPaused) ContractEventName() string {
	return SettlementPoolPausedEventName
}

// UnpackPausedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Paused(address account)
func (settlementPool *SettlementPool) UnpackPausedEvent(log *types.Log) (*SettlementPoolPaused, error) {
	event := "Paused"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != settlementPool.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(SettlementPoolPaused)
	if len(log.Data) > 0 {
		if err := settlementPool.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range settlementPool.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// SettlementPoolRoleAdminChanged represents a RoleAdminChanged event raised by the SettlementPool contract.
type SettlementPoolRoleAdminChanged struct {
	Role              [32]byte
	PreviousAdminRole [32]byte
	NewAdminRole      [32]byte
	Raw               *types.Log // Blockchain specific contextual infos
}

const SettlementPoolRoleAdminChangedEventName = "RoleAdminChanged"

// ContractEventName returns the user-defined event name.
func (SettlementPoolRoleAdminChanged) ContractEventName() string {
	return SettlementPoolRoleAdminChangedEventName
}

// UnpackRoleAdminChangedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole)
func (settlementPool *SettlementPool) UnpackRoleAdminChangedEvent(log *types.Log) (*SettlementPoolRoleAdminChanged, error) {
	event := "RoleAdminChanged"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != settlementPool.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(SettlementPoolRoleAdminChanged)
	if len(log.Data) > 0 {
		if err := settlementPool.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range settlementPool.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// SettlementPoolRoleGranted represents a RoleGranted event raised by the SettlementPool contract.
type SettlementPoolRoleGranted struct {
	Role    [32]byte
	Account common.Address
	Sender  common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const SettlementPoolRoleGrantedEventName = "RoleGranted"

// ContractEventName returns the user-defined event name.
func (SettlementPoolRoleGranted) ContractEventName() string {
	return SettlementPoolRoleGrantedEventName
}

// UnpackRoleGrantedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender)
func (settlementPool *SettlementPool) UnpackRoleGrantedEvent(log *types.Log) (*SettlementPoolRoleGranted, error) {
	event := "RoleGranted"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != settlementPool.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(SettlementPoolRoleGranted)
	if len(log.Data) > 0 {
		if err := settlementPool.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range settlementPool.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// SettlementPoolRoleRevoked represents a RoleRevoked event raised by the SettlementPool contract.
type SettlementPoolRoleRevoked struct {
	Role    [32]byte
	Account common.Address
	Sender  common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const SettlementPoolRoleRevokedEventName = "RoleRevoked"

// ContractEventName returns the user-defined event name.
func (SettlementPoolRoleRevoked) ContractEventName() string {
	return SettlementPoolRoleRevokedEventName
}

// UnpackRoleRevokedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender)
func (settlementPool *SettlementPool) UnpackRoleRevokedEvent(log *types.Log) (*SettlementPoolRoleRevoked, error) {
	event := "RoleRevoked"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != settlementPool.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(SettlementPoolRoleRevoked)
	if len(log.Data) > 0 {
		if err := settlementPool.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range settlementPool.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// SettlementPoolUnpaused represents a Unpaused event raised by the SettlementPool contract.
type SettlementPoolUnpaused struct {
	Account common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const SettlementPoolUnpausedEventName = "Unpaused"

// ContractEventName returns the user-defined event name.
func (SettlementPoolUnpaused) ContractEventName() string {
	return SettlementPoolUnpausedEventName
}

// UnpackUnpausedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Unpaused(address account)
func (settlementPool *SettlementPool) UnpackUnpausedEvent(log *types.Log) (*SettlementPoolUnpaused, error) {
	event := "Unpaused"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != settlementPool.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(SettlementPoolUnpaused)
	if len(log.Data) > 0 {
		if err := settlementPool.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range settlementPool.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// SettlementPoolWithdrawalRequested represents a WithdrawalRequested event raised by the SettlementPool contract.
type SettlementPoolWithdrawalRequested struct {
	Account     common.Address
	Amount      *big.Int
	AvailableAt *big.Int
	Raw         *types.Log // Blockchain specific contextual infos
}

const SettlementPoolWithdrawalRequestedEventName = "WithdrawalRequested"

// ContractEventName returns the user-defined event name.
func (SettlementPoolWithdrawalRequested) ContractEventName() string {
	return SettlementPoolWithdrawalRequestedEventName
}

// UnpackWithdrawalRequestedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event WithdrawalRequested(address indexed account, uint256 amount, uint256 availableAt)
func (settlementPool *SettlementPool) UnpackWithdrawalRequestedEvent(log *types.Log) (*SettlementPoolWithdrawalRequested, error) {
	event := "WithdrawalRequested"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != settlementPool.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(SettlementPoolWithdrawalRequested)
	if len(log.Data) > 0 {
		if err := settlementPool.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range settlementPool.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// SettlementPoolWithdrawn represents a Withdrawn event raised by the SettlementPool contract.
type SettlementPoolWithdrawn struct {
	Account common.Address
	Amount  *big.Int
	Raw     *types.Log // Blockchain specific contextual infos
}

const SettlementPoolWithdrawnEventName = "Withdrawn"

// ContractEventName returns the user-defined event name.
func (SettlementPoolWithdrawn) ContractEventName() string {
	return SettlementPoolWithdrawnEventName
}

// UnpackWithdrawnEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Withdrawn(address indexed account, uint256 amount)
func (settlementPool *SettlementPool) UnpackWithdrawnEvent(log *types.Log) (*SettlementPoolWithdrawn, error) {
	event := "Withdrawn"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != settlementPool.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(SettlementPoolWithdrawn)
	if len(log.Data) > 0 {
		if err := settlementPool.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range settlementPool.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// UnpackError attempts to decode the provided error data using user-defined
// error definitions.
func (settlementPool *SettlementPool) UnpackError(raw []byte) (any, error) {
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["AccessControlBadConfirmation"].ID.Bytes()[:4]) {
		return settlementPool.UnpackAccessControlBadConfirmationError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["AccessControlUnauthorizedAccount"].ID.Bytes()[:4]) {
		return settlementPool.UnpackAccessControlUnauthorizedAccountError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["BatchAlreadySettled"].ID.Bytes()[:4]) {
		return settlementPool.UnpackBatchAlreadySettledError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["EmptyBatch"].ID.Bytes()[:4]) {
		return settlementPool.UnpackEmptyBatchError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["EnforcedPause"].ID.Bytes()[:4]) {
		return settlementPool.UnpackEnforcedPauseError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["ExpectedPause"].ID.Bytes()[:4]) {
		return settlementPool.UnpackExpectedPauseError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["FeeAboveAmount"].ID.Bytes()[:4]) {
		return settlementPool.UnpackFeeAboveAmountError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["InsufficientPoolBalance"].ID.Bytes()[:4]) {
		return settlementPool.UnpackInsufficientPoolBalanceError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["NoPendingWithdrawal"].ID.Bytes()[:4]) {
		return settlementPool.UnpackNoPendingWithdrawalError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["ReentrancyGuardReentrantCall"].ID.Bytes()[:4]) {
		return settlementPool.UnpackReentrancyGuardReentrantCallError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["SafeERC20FailedOperation"].ID.Bytes()[:4]) {
		return settlementPool.UnpackSafeERC20FailedOperationError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["WithdrawalDelayOutOfRange"].ID.Bytes()[:4]) {
		return settlementPool.UnpackWithdrawalDelayOutOfRangeError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["WithdrawalNotYetAvailable"].ID.Bytes()[:4]) {
		return settlementPool.UnpackWithdrawalNotYetAvailableError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["ZeroAddress"].ID.Bytes()[:4]) {
		return settlementPool.UnpackZeroAddressError(raw[4:])
	}
	if bytes.Equal(raw[:4], settlementPool.abi.Errors["ZeroAmount"].ID.Bytes()[:4]) {
		return settlementPool.UnpackZeroAmountError(raw[4:])
	}
	return nil, errors.New("Unknown error")
}

// SettlementPoolAccessControlBadConfirmation represents a AccessControlBadConfirmation error raised by the SettlementPool contract.
type SettlementPoolAccessControlBadConfirmation struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error AccessControlBadConfirmation()
func SettlementPoolAccessControlBadConfirmationErrorID() common.Hash {
	return common.HexToHash("0x6697b23232a647058342c0724fe7c415cab25915b54e5dbc03f233173d37b41c")
}

// UnpackAccessControlBadConfirmationError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error AccessControlBadConfirmation()
func (settlementPool *SettlementPool) UnpackAccessControlBadConfirmationError(raw []byte) (*SettlementPoolAccessControlBadConfirmation, error) {
	out := new(SettlementPoolAccessControlBadConfirmation)
	if err := settlementPool.abi.UnpackIntoInterface(out, "AccessControlBadConfirmation", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolAccessControlUnauthorizedAccount represents a AccessControlUnauthorizedAccount error raised by the SettlementPool contract.
type SettlementPoolAccessControlUnauthorizedAccount struct {
	Account    common.Address
	NeededRole [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)
func SettlementPoolAccessControlUnauthorizedAccountErrorID() common.Hash {
	return common.HexToHash("0xe2517d3fbfae6f8515ef5ff1ccedc3933ab0cbbda0b492c06eb54ad10ef03b3e")
}

// UnpackAccessControlUnauthorizedAccountError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)
func (settlementPool *SettlementPool) UnpackAccessControlUnauthorizedAccountError(raw []byte) (*SettlementPoolAccessControlUnauthorizedAccount, error) {
	out := new(SettlementPoolAccessControlUnauthorizedAccount)
	if err := settlementPool.abi.UnpackIntoInterface(out, "AccessControlUnauthorizedAccount", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolBatchAlreadySettled represents a BatchAlreadySettled error raised by the SettlementPool contract.
type SettlementPoolBatchAlreadySettled struct {
	BatchId [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error BatchAlreadySettled(bytes32 batchId)
func SettlementPoolBatchAlreadySettledErrorID() common.Hash {
	return common.HexToHash("0xfc2bcaecfa38049c141556d8443ece0fad2b3f21b1a4da45d1ef90946427638d")
}

// UnpackBatchAlreadySettledError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error BatchAlreadySettled(bytes32 batchId)
func (settlementPool *SettlementPool) UnpackBatchAlreadySettledError(raw []byte) (*SettlementPoolBatchAlreadySettled, error) {
	out := new(SettlementPoolBatchAlreadySettled)
	if err := settlementPool.abi.UnpackIntoInterface(out, "BatchAlreadySettled", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolEmptyBatch represents a EmptyBatch error raised by the SettlementPool contract.
type SettlementPoolEmptyBatch struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error EmptyBatch()
func SettlementPoolEmptyBatchErrorID() common.Hash {
	return common.HexToHash("0xc2e5347df6cf8d1bf68f8a9651642312bd381b900d857d97cd665976180d6ae0")
}

// UnpackEmptyBatchError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error EmptyBatch()
func (settlementPool *SettlementPool) UnpackEmptyBatchError(raw []byte) (*SettlementPoolEmptyBatch, error) {
	out := new(SettlementPoolEmptyBatch)
	if err := settlementPool.abi.UnpackIntoInterface(out, "EmptyBatch", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolEnforcedPause represents a EnforcedPause error raised by the SettlementPool contract.
type SettlementPoolEnforcedPause struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error EnforcedPause()
func SettlementPoolEnforcedPauseErrorID() common.Hash {
	return common.HexToHash("0xd93c0665d6c96d04a8f174024fc4ddd66c250604aff22bbec808de86dd3637e3")
}

// UnpackEnforcedPauseError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error EnforcedPause()
func (settlementPool *SettlementPool) UnpackEnforcedPauseError(raw []byte) (*SettlementPoolEnforcedPause, error) {
	out := new(SettlementPoolEnforcedPause)
	if err := settlementPool.abi.UnpackIntoInterface(out, "EnforcedPause", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolExpectedPause represents a ExpectedPause error raised by the SettlementPool contract.
type SettlementPoolExpectedPause struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ExpectedPause()
func SettlementPoolExpectedPauseErrorID() common.Hash {
	return common.HexToHash("0x8dfc202bcfe9a735b559bee70674422512bc5c30f687046ae8778315fb81da44")
}

// UnpackExpectedPauseError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ExpectedPause()
func (settlementPool *SettlementPool) UnpackExpectedPauseError(raw []byte) (*SettlementPoolExpectedPause, error) {
	out := new(SettlementPoolExpectedPause)
	if err := settlementPool.abi.UnpackIntoInterface(out, "ExpectedPause", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolFeeAboveAmount represents a FeeAboveAmount error raised by the SettlementPool contract.
type SettlementPoolFeeAboveAmount struct {
	Index  *big.Int
	Amount *big.Int
	Fee    *big.Int
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error FeeAboveAmount(uint256 index, uint256 amount, uint256 fee)
func SettlementPoolFeeAboveAmountErrorID() common.Hash {
	return common.HexToHash("0x9f9b65866d59ef0527fd47779a0052f5dd64755e537773df93f363c6a1062073")
}

// UnpackFeeAboveAmountError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error FeeAboveAmount(uint256 index, uint256 amount, uint256 fee)
func (settlementPool *SettlementPool) UnpackFeeAboveAmountError(raw []byte) (*SettlementPoolFeeAboveAmount, error) {
	out := new(SettlementPoolFeeAboveAmount)
	if err := settlementPool.abi.UnpackIntoInterface(out, "FeeAboveAmount", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolInsufficientPoolBalance represents a InsufficientPoolBalance error raised by the SettlementPool contract.
type SettlementPoolInsufficientPoolBalance struct {
	Account common.Address
	Balance *big.Int
	Needed  *big.Int
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error InsufficientPoolBalance(address account, uint256 balance, uint256 needed)
func SettlementPoolInsufficientPoolBalanceErrorID() common.Hash {
	return common.HexToHash("0xbac59adb40df9a4a7bed293e509a5d7a05ff2ffbb6b81664503e48598b8f3c49")
}

// UnpackInsufficientPoolBalanceError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error InsufficientPoolBalance(address account, uint256 balance, uint256 needed)
func (settlementPool *SettlementPool) UnpackInsufficientPoolBalanceError(raw []byte) (*SettlementPoolInsufficientPoolBalance, error) {
	out := new(SettlementPoolInsufficientPoolBalance)
	if err := settlementPool.abi.UnpackIntoInterface(out, "InsufficientPoolBalance", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolNoPendingWithdrawal represents a NoPendingWithdrawal error raised by the SettlementPool contract.
type SettlementPoolNoPendingWithdrawal struct {
	Account common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NoPendingWithdrawal(address account)
func SettlementPoolNoPendingWithdrawalErrorID() common.Hash {
	return common.HexToHash("0x0835f88253d80e2680d00e55a626288e8d2452a7e1c7184c74c4c05dd4a25a73")
}

// UnpackNoPendingWithdrawalError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NoPendingWithdrawal(address account)
func (settlementPool *SettlementPool) UnpackNoPendingWithdrawalError(raw []byte) (*SettlementPoolNoPendingWithdrawal, error) {
	out := new(SettlementPoolNoPendingWithdrawal)
	if err := settlementPool.abi.UnpackIntoInterface(out, "NoPendingWithdrawal", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolReentrancyGuardReentrantCall represents a ReentrancyGuardReentrantCall error raised by the SettlementPool contract.
type SettlementPoolReentrancyGuardReentrantCall struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ReentrancyGuardReentrantCall()
func SettlementPoolReentrancyGuardReentrantCallErrorID() common.Hash {
	return common.HexToHash("0x3ee5aeb571de7fc460830b4d0017439a1ca56fb0bc39062227ade4fe4a24c1ca")
}

// UnpackReentrancyGuardReentrantCallError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ReentrancyGuardReentrantCall()
func (settlementPool *SettlementPool) UnpackReentrancyGuardReentrantCallError(raw []byte) (*SettlementPoolReentrancyGuardReentrantCall, error) {
	out := new(SettlementPoolReentrancyGuardReentrantCall)
	if err := settlementPool.abi.UnpackIntoInterface(out, "ReentrancyGuardReentrantCall", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolSafeERC20FailedOperation represents a SafeERC20FailedOperation error raised by the SettlementPool contract.
type SettlementPoolSafeERC20FailedOperation struct {
	Token common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error SafeERC20FailedOperation(address token)
func SettlementPoolSafeERC20FailedOperationErrorID() common.Hash {
	return common.HexToHash("0x5274afe73c98b4749fc91ffae6b7b574e7842cb2144a159e9377a5f20b32edf9")
}

// UnpackSafeERC20FailedOperationError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error SafeERC20FailedOperation(address token)
func (settlementPool *SettlementPool) UnpackSafeERC20FailedOperationError(raw []byte) (*SettlementPoolSafeERC20FailedOperation, error) {
	out := new(SettlementPoolSafeERC20FailedOperation)
	if err := settlementPool.abi.UnpackIntoInterface(out, "SafeERC20FailedOperation", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolWithdrawalDelayOutOfRange represents a WithdrawalDelayOutOfRange error raised by the SettlementPool contract.
type SettlementPoolWithdrawalDelayOutOfRange struct {
	Delay *big.Int
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error WithdrawalDelayOutOfRange(uint256 delay)
func SettlementPoolWithdrawalDelayOutOfRangeErrorID() common.Hash {
	return common.HexToHash("0xad5325928bf7a2594069b12fd04fcb33bc8056a1f7b14ed34e753928aef2b2df")
}

// UnpackWithdrawalDelayOutOfRangeError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error WithdrawalDelayOutOfRange(uint256 delay)
func (settlementPool *SettlementPool) UnpackWithdrawalDelayOutOfRangeError(raw []byte) (*SettlementPoolWithdrawalDelayOutOfRange, error) {
	out := new(SettlementPoolWithdrawalDelayOutOfRange)
	if err := settlementPool.abi.UnpackIntoInterface(out, "WithdrawalDelayOutOfRange", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolWithdrawalNotYetAvailable represents a WithdrawalNotYetAvailable error raised by the SettlementPool contract.
type SettlementPoolWithdrawalNotYetAvailable struct {
	AvailableAt *big.Int
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error WithdrawalNotYetAvailable(uint256 availableAt)
func SettlementPoolWithdrawalNotYetAvailableErrorID() common.Hash {
	return common.HexToHash("0x449406b522fcf8f932bb596ffa127b22fde292e27e52b9ac8cfb869bc9ef8bbb")
}

// UnpackWithdrawalNotYetAvailableError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error WithdrawalNotYetAvailable(uint256 availableAt)
func (settlementPool *SettlementPool) UnpackWithdrawalNotYetAvailableError(raw []byte) (*SettlementPoolWithdrawalNotYetAvailable, error) {
	out := new(SettlementPoolWithdrawalNotYetAvailable)
	if err := settlementPool.abi.UnpackIntoInterface(out, "WithdrawalNotYetAvailable", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolZeroAddress represents a ZeroAddress error raised by the SettlementPool contract.
type SettlementPoolZeroAddress struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ZeroAddress()
func SettlementPoolZeroAddressErrorID() common.Hash {
	return common.HexToHash("0xd92e233df2717d4a40030e20904abd27b68fcbeede117eaaccbbdac9618c8c73")
}

// UnpackZeroAddressError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ZeroAddress()
func (settlementPool *SettlementPool) UnpackZeroAddressError(raw []byte) (*SettlementPoolZeroAddress, error) {
	out := new(SettlementPoolZeroAddress)
	if err := settlementPool.abi.UnpackIntoInterface(out, "ZeroAddress", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// SettlementPoolZeroAmount represents a ZeroAmount error raised by the SettlementPool contract.
type SettlementPoolZeroAmount struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ZeroAmount()
func SettlementPoolZeroAmountErrorID() common.Hash {
	return common.HexToHash("0x1f2a2005cb66a8e145327e8814e243a0996aec9bfe1e15a495778b1236dbd485")
}

// UnpackZeroAmountError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ZeroAmount()
func (settlementPool *SettlementPool) UnpackZeroAmountError(raw []byte) (*SettlementPoolZeroAmount, error) {
	out := new(SettlementPoolZeroAmount)
	if err := settlementPool.abi.UnpackIntoInterface(out, "ZeroAmount", raw); err != nil {
		return nil, err
	}
	return out, nil
}
