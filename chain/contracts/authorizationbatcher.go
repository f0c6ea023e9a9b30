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

// AuthorizationBatcherAuthorization is an auto generated low-level Go binding around an user-defined struct.
type AuthorizationBatcherAuthorization struct {
	From        common.Address
	To          common.Address
	Value       *big.Int
	ValidAfter  *big.Int
	ValidBefore *big.Int
	Nonce       [32]byte
	Signature   []byte
}

// AuthorizationBatcherMetaData contains all meta data concerning the AuthorizationBatcher contract.
var AuthorizationBatcherMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"index\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"gasLeft\",\"type\":\"uint256\"}],\"name\":\"OutOfGasForEntry\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"token\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"from\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"nonce\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"bytes\",\"name\":\"reason\",\"type\":\"bytes\"}],\"name\":\"AuthorizationFailed\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"token\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"from\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"nonce\",\"type\":\"bytes32\"}],\"name\":\"AuthorizationSettled\",\"type\":\"event\"},{\"inputs\":[],\"name\":\"ENTRY_GAS_MAX\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"ENTRY_GAS_RESERVE\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"token\",\"type\":\"address\"},{\"components\":[{\"internalType\":\"address\",\"name\":\"from\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"value\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"validAfter\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"validBefore\",\"type\":\"uint256\"},{\"internalType\":\"bytes32\",\"name\":\"nonce\",\"type\":\"bytes32\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"}],\"internalType\":\"structAuthorizationBatcher.Authorization[]\",\"name\":\"list\",\"type\":\"tuple[]\"}],\"name\":\"settle\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"settled\",\"type\":\"uint256\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	ID:  "AuthorizationBatcher",
	Bin: "0x6080604052348015600e575f5ffd5b506107fa8061001c5f395ff3fe608060405234801561000f575f5ffd5b506004361061003f575f3560e01c80631a41842b146100435780632b4249c6146100685780635126b2d114610070575b5f5ffd5b61005661005136600461054d565b61007a565b60405190815260200160405180910390f35b610056610132565b61005662061a8081565b5f83815b8381101561012957610094603f62061a806105e2565b6100a19062061a80610601565b6100ad90614e20610601565b5a10156100dc57805a6040516334d85fd760e21b81526004810192909252602482015260440160405180910390fd5b368585838181106100ef576100ef610614565b90506020028101906101019190610628565b905061010d838261015c565b15610120578361011c81610646565b9450505b5060010161007e565b50509392505050565b610140603f62061a806105e2565b61014d9062061a80610601565b61015990614e20610601565b81565b5f368161016c60c085018561065e565b909250905060418190036103a8575f61018860208284866106a8565b610191916106cf565b90505f6101a26040602085876106a8565b6101ab916106cf565b90505f848460408181106101c1576101c1610614565b919091013560f81c915050601b8110156101e3576101e0601b826106ec565b90505b6001600160a01b03881663e3ee160e62061a8061020360208b018b610705565b61021360408c0160208d01610705565b604080516001600160e01b031960e087901b1681526001600160a01b0393841660048201529290911660248301528b0135604482015260608b0135606482015260808b0135608482015260a08b013560a482015260ff851660c482015260e481018790526101048101869052610124015f604051808303815f88803b15801561029a575f5ffd5b5087f1935050505080156102ac575060015b610349573d8080156102d9576040519150601f19603f3d011682016040523d82523d5f602084013e6102de565b606091505b5060a08801356102f160208a018a610705565b6001600160a01b03168a6001600160a01b03167fab14806226e0819c1fdd90d31c446c2b5f75499440735980e9b9255859a2d35b846040516103339190610725565b60405180910390a45f965050505050505061052c565b60a087013561035b6020890189610705565b6001600160a01b0316896001600160a01b03167f5afe0edd023f39535e1be44ea2332015f85acc4f6a08c02a2222dbb04868ebb360405160405180910390a460019550505050505061052c565b6001600160a01b03851663cf09299562061a806103c86020880188610705565b6103d86040890160208a01610705565b886040013589606001358a608001358b60a001358a8a6040518a63ffffffff1660e01b815260040161041198979695949392919061075a565b5f604051808303815f88803b158015610428575f5ffd5b5087f19350505050801561043a575060015b6104d4573d808015610467576040519150601f19603f3d011682016040523d82523d5f602084013e61046c565b606091505b5060a085013561047f6020870187610705565b6001600160a01b0316876001600160a01b03167fab14806226e0819c1fdd90d31c446c2b5f75499440735980e9b9255859a2d35b846040516104c19190610725565b60405180910390a45f935050505061052c565b60a08401356104e66020860186610705565b6001600160a01b0316866001600160a01b03167f5afe0edd023f39535e1be44ea2332015f85acc4f6a08c02a2222dbb04868ebb360405160405180910390a46001925050505b92915050565b80356001600160a01b0381168114610548575f5ffd5b919050565b5f5f5f6040848603121561055f575f5ffd5b61056884610532565b9250602084013567ffffffffffffffff811115610583575f5ffd5b8401601f81018613610593575f5ffd5b803567ffffffffffffffff8111156105a9575f5ffd5b8660208260051b84010111156105bd575f5ffd5b939660209190910195509293505050565b634e487b7160e01b5f52601160045260245ffd5b5f826105fc57634e487b7160e01b5f52601260045260245ffd5b500490565b8082018082111561052c5761052c6105ce565b634e487b7160e01b5f52603260045260245ffd5b5f823560de1983360301811261063c575f5ffd5b9190910192915050565b5f60018201610657576106576105ce565b5060010190565b5f5f8335601e19843603018112610673575f5ffd5b83018035915067ffffffffffffffff82111561068d575f5ffd5b6020019150368190038213156106a1575f5ffd5b9250929050565b5f5f858511156106b6575f5ffd5b838611156106c2575f5ffd5b5050820193919092039150565b8035602083101561052c575f19602084900360031b1b1692915050565b60ff818116838216019081111561052c5761052c6105ce565b5f60208284031215610715575f5ffd5b61071e82610532565b9392505050565b602081525f82518060208401528060208501604085015e5f604082850101526040601f19601f83011684010191505092915050565b6001600160a01b0389811682528816602082015260408101879052606081018690526080810185905260a0810184905260e060c08201819052810182905281836101008301375f81830161010090810191909152601f909201601f1916010197965050505050505056fea2646970667358221220ccce696a28c4d91837f59166b7fed279c4ce2f86d140760e6b02f94442b39fee64736f6c63430008250033",
}

// AuthorizationBatcher is an auto generated Go binding around an Ethereum contract.
type AuthorizationBatcher struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *AuthorizationBatcher) GetABI() abi.ABI {
	return c.abi
}

// NewAuthorizationBatcher creates a new instance of AuthorizationBatcher.
func NewAuthorizationBatcher() *AuthorizationBatcher {
	parsed, err := AuthorizationBatcherMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &AuthorizationBatcher{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *AuthorizationBatcher) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackENTRYGASMAX is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5126b2d1.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function ENTRY_GAS_MAX() view returns(uint256)
func (authorizationBatcher *AuthorizationBatcher) PackENTRYGASMAX() []byte {
	enc, err := authorizationBatcher.abi.Pack("ENTRY_GAS_MAX")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackENTRYGASMAX is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5126b2d1.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function ENTRY_GAS_MAX() view returns(uint256)
func (authorizationBatcher *AuthorizationBatcher) TryPackENTRYGASMAX() ([]byte, error) {
	return authorizationBatcher.abi.Pack("ENTRY_GAS_MAX")
}

// UnpackENTRYGASMAX is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x5126b2d1.
//
// Solidity: function ENTRY_GAS_MAX() view returns(uint256)
func (authorizationBatcher *AuthorizationBatcher) UnpackENTRYGASMAX(data []byte) (*big.Int, error) {
	out, err := authorizationBatcher.abi.Unpack("ENTRY_GAS_MAX", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackENTRYGASRESERVE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2b4249c6.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function ENTRY_GAS_RESERVE() view returns(uint256)
func (authorizationBatcher *AuthorizationBatcher) PackENTRYGASRESERVE() []byte {
	enc, err := authorizationBatcher.abi.Pack("ENTRY_GAS_RESERVE")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackENTRYGASRESERVE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2b4249c6.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function ENTRY_GAS_RESERVE() view returns(uint256)
func (authorizationBatcher *AuthorizationBatcher) TryPackENTRYGASRESERVE() ([]byte, error) {
	return authorizationBatcher.abi.Pack("ENTRY_GAS_RESERVE")
}

// UnpackENTRYGASRESERVE is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x2b4249c6.
//
// Solidity: function ENTRY_GAS_RESERVE() view returns(uint256)
func (authorizationBatcher *AuthorizationBatcher) UnpackENTRYGASRESERVE(data []byte) (*big.Int, error) {
	out, err := authorizationBatcher.abi.Unpack("ENTRY_GAS_RESERVE", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackSettle is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x1a41842b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function settle(address token, (address,address,uint256,uint256,uint256,bytes32,bytes)[] list) returns(uint256 settled)
func (authorizationBatcher *AuthorizationBatcher) PackSettle(token common.Address, list []AuthorizationBatcherAuthorization) []byte {
	enc, err := authorizationBatcher.abi.Pack("settle", token, list)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSettle is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x1a41842b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function settle(address token, (address,address,uint256,uint256,uint256,bytes32,bytes)[] list) returns(uint256 settled)
func (authorizationBatcher *AuthorizationBatcher) TryPackSettle(token common.Address, list []AuthorizationBatcherAuthorization) ([]byte, error) {
	return authorizationBatcher.abi.Pack("settle", token, list)
}

// UnpackSettle is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x1a41842b.
//
// Solidity: function settle(address token, (address,address,uint256,uint256,uint256,bytes32,bytes)[] list) returns(uint256 settled)
func (authorizationBatcher *AuthorizationBatcher) UnpackSettle(data []byte) (*big.Int, error) {
	out, err := authorizationBatcher.abi.Unpack("settle", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// AuthorizationBatcherAuthorizationFailed represents a AuthorizationFailed event raised by the AuthorizationBatcher contract.
type AuthorizationBatcherAuthorizationFailed struct {
	Token  common.Address
	From   common.Address
	Nonce  [32]byte
	Reason []byte
	Raw    *types.Log // Blockchain specific contextual infos
}

const AuthorizationBatcherAuthorizationFailedEventName = "AuthorizationFailed"

// ContractEventName returns the user-defined event name.
func (AuthorizationBatcherAuthorizationFailed) ContractEventName() string {
	return AuthorizationBatcherAuthorizationFailedEventName
}

// UnpackAuthorizationFailedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event AuthorizationFailed(address indexed token, address indexed from, bytes32 indexed nonce, bytes reason)
func (authorizationBatcher *AuthorizationBatcher) UnpackAuthorizationFailedEvent(log *types.Log) (*AuthorizationBatcherAuthorizationFailed, error) {
	event := "AuthorizationFailed"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != authorizationBatcher.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(AuthorizationBatcherAuthorizationFailed)
	if len(log.Data) > 0 {
		if err := authorizationBatcher.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range authorizationBatcher.abi.Events[event].Inputs {
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

// AuthorizationBatcherAuthorizationSettled represents a AuthorizationSettled event raised by the AuthorizationBatcher contract.
type AuthorizationBatcherAuthorizationSettled struct {
	Token common.Address
	From  common.Address
	Nonce [32]byte
	Raw   *types.Log // Blockchain specific contextual infos
}

const AuthorizationBatcherAuthorizationSettledEventName = "AuthorizationSettled"

// ContractEventName returns the user-defined event name.
func (AuthorizationBatcherAuthorizationSettled) ContractEventName() string {
	return AuthorizationBatcherAuthorizationSettledEventName
}

// UnpackAuthorizationSettledEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event AuthorizationSettled(address indexed token, address indexed from, bytes32 indexed nonce)
func (authorizationBatcher *AuthorizationBatcher) UnpackAuthorizationSettledEvent(log *types.Log) (*AuthorizationBatcherAuthorizationSettled, error) {
	event := "AuthorizationSettled"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != authorizationBatcher.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(AuthorizationBatcherAuthorizationSettled)
	if len(log.Data) > 0 {
		if err := authorizationBatcher.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range authorizationBatcher.abi.Events[event].Inputs {
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
func (authorizationBatcher *AuthorizationBatcher) UnpackError(raw []byte) (any, error) {
	if bytes.Equal(raw[:4], authorizationBatcher.abi.Errors["OutOfGasForEntry"].ID.Bytes()[:4]) {
		return authorizationBatcher.UnpackOutOfGasForEntryError(raw[4:])
	}
	return nil, errors.New("Unknown error")
}

// AuthorizationBatcherOutOfGasForEntry represents a OutOfGasForEntry error raised by the AuthorizationBatcher contract.
type AuthorizationBatcherOutOfGasForEntry struct {
	Index   *big.Int
	GasLeft *big.Int
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error OutOfGasForEntry(uint256 index, uint256 gasLeft)
func AuthorizationBatcherOutOfGasForEntryErrorID() common.Hash {
	return common.HexToHash("0xd3617f5c97d6b0550de7215093cdd693f1ff8cd7c6ed7bd0eca5877c5b2adb01")
}

// UnpackOutOfGasForEntryError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error OutOfGasForEntry(uint256 index, uint256 gasLeft)
func (authorizationBatcher *AuthorizationBatcher) UnpackOutOfGasForEntryError(raw []byte) (*AuthorizationBatcherOutOfGasForEntry, error) {
	out := new(AuthorizationBatcherOutOfGasForEntry)
	if err := authorizationBatcher.abi.UnpackIntoInterface(out, "OutOfGasForEntry", raw); err != nil {
		return nil, err
	}
	return out, nil
}
