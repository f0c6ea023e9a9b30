package registry

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// Limits of the registries. Each is small: the registries are read on
// every verification and listed whole.
const (
	// NetworksMax bounds the registered networks.
	NetworksMax = 64
	// AssetsPerNetworkMax bounds the registered assets of one network.
	AssetsPerNetworkMax = 64
	// ResourcesPerOwnerMax bounds the resources one user registers.
	ResourcesPerOwnerMax = 1000
	// SymbolBytesMax, AssetNameBytesMax, NetworkNameBytesMax and
	// EIP712VersionBytesMax bound an asset's and a network's texts.
	SymbolBytesMax        = 16
	AssetNameBytesMax     = 64
	NetworkNameBytesMax   = 64
	EIP712VersionBytesMax = 16
	// DecimalsMax is the most decimals an asset may have.
	DecimalsMax = 36
	// networkIDBytesMax bounds "eip155:" and a uint64 in decimal.
	networkIDBytesMax = len(NamespaceEIP155) + 1 + 20
)

// NamespaceEIP155 is the CAIP-2 namespace of EVM chains, the only one the
// facilitator settles in.
const NamespaceEIP155 = "eip155"

// Errors of the registry; httpapi maps them to HTTP.
var (
	// ErrNotFound: no such network, asset or resource, or a resource of
	// another owner (never reported as forbidden, so ids cannot be probed).
	ErrNotFound = errors.New("registry: not found")
	// ErrInvalid: a record breaks a rule of this package; the message says
	// which.
	ErrInvalid = errors.New("registry: invalid")
	// ErrLimitExceeded: a creation past a cap; the error is a *LimitError.
	ErrLimitExceeded = errors.New("registry: limit exceeded")
)

// LimitError is ErrLimitExceeded (errors.Is) with the cap's text and value.
type LimitError struct {
	What string // "networks", "assets per network", "resources per owner"
	Max  int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("registry: at most %d %s", e.Max, e.What)
}

func (e *LimitError) Is(target error) bool { return target == ErrLimitExceeded }

// Network is a chain payments settle on, named by its CAIP-2 id.
type Network struct {
	ID      string `json:"id"` // "eip155:<chainId>"
	Name    string `json:"name"`
	ChainID uint64 `json:"chainId"`
}

// EIP712Domain is the name and version of a token's EIP-712 domain, which
// EIP-3009 authorizations are signed for.
type EIP712Domain struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Asset is a token of a network that payments may be made in.
type Asset struct {
	Network  string        `json:"network"`
	Address  string        `json:"address"` // EIP-55
	Symbol   string        `json:"symbol"`
	Name     string        `json:"name"`
	Decimals uint8         `json:"decimals"`
	EIP712   *EIP712Domain `json:"eip712,omitempty"`
}

// ParseNetworkID returns the chain id of a CAIP-2 EVM network id,
// "eip155:<chainId>", with the chain id positive and in canonical decimal
// (no sign, no leading zero), so each network has one id.
func ParseNetworkID(id string) (uint64, bool) {
	reference, ok := strings.CutPrefix(id, NamespaceEIP155+":")
	if !ok || len(id) > networkIDBytesMax || reference == "" || reference[0] == '0' {
		return 0, false
	}
	for _, c := range reference {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	chainID, err := strconv.ParseUint(reference, 10, 64)
	if err != nil {
		return 0, false
	}
	return chainID, chainID > 0
}

// NetworkID returns the CAIP-2 id of an EVM chain.
func NetworkID(chainID uint64) string {
	return NamespaceEIP155 + ":" + strconv.FormatUint(chainID, 10)
}

// knownNetworks names the chains a network registered without a name is
// likely to be.
var knownNetworks = map[uint64]string{
	1: "Ethereum", 10: "OP Mainnet", 137: "Polygon", 8453: "Base", 42161: "Arbitrum One",
	43114: "Avalanche C-Chain", 84532: "Base Sepolia", 11155111: "Sepolia", 1337: "Local chain 1337",
}

// NetworkName is the name a network of chainID gets when none is given.
func NetworkName(chainID uint64) string {
	if name, ok := knownNetworks[chainID]; ok {
		return name
	}
	return "Chain " + strconv.FormatUint(chainID, 10)
}

// CheckAddress returns an address in EIP-55 form: it must be 0x and 40
// hexadecimal digits.
func CheckAddress(address string) (string, bool) {
	if len(address) != 42 || !common.IsHexAddress(address) || (address[1] != 'x' && address[1] != 'X') {
		return "", false
	}
	return common.HexToAddress(address).Hex(), true
}

// checkText reports whether a name or symbol is 1 to max bytes of
// printable text without surrounding spaces.
func checkText(s string, max int) bool {
	if s == "" || len(s) > max || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// Check returns what is wrong with a network, "" if nothing.
func (n *Network) Check() string {
	chainID, ok := ParseNetworkID(n.ID)
	switch {
	case !ok:
		return "id must be eip155:<chainId>"
	case chainID != n.ChainID:
		return "chainId must be the id's"
	case !checkText(n.Name, NetworkNameBytesMax):
		return fmt.Sprintf("name must be 1-%d bytes of text", NetworkNameBytesMax)
	}
	return ""
}

// Check returns what is wrong with an asset, by field, nil if nothing. The
// address must be EIP-55 already (CheckAddress).
func (a *Asset) Check() map[string]string {
	fields := map[string]string{}
	if _, ok := ParseNetworkID(a.Network); !ok {
		fields["network"] = "must be a CAIP-2 EVM network id, eip155:<chainId>"
	}
	if address, ok := CheckAddress(a.Address); !ok || address != a.Address {
		fields["address"] = "must be a 0x-prefixed 20-byte hex address"
	}
	if !checkText(a.Symbol, SymbolBytesMax) {
		fields["symbol"] = fmt.Sprintf("must be 1-%d bytes of text", SymbolBytesMax)
	}
	if !checkText(a.Name, AssetNameBytesMax) {
		fields["name"] = fmt.Sprintf("must be 1-%d bytes of text", AssetNameBytesMax)
	}
	if a.Decimals > DecimalsMax {
		fields["decimals"] = fmt.Sprintf("must be an integer from 0 to %d", DecimalsMax)
	}
	if d := a.EIP712; d != nil {
		if !checkText(d.Name, AssetNameBytesMax) {
			fields["eip712.name"] = fmt.Sprintf("must be 1-%d bytes of text", AssetNameBytesMax)
		}
		if !checkText(d.Version, EIP712VersionBytesMax) {
			fields["eip712.version"] = fmt.Sprintf("must be 1-%d bytes of text", EIP712VersionBytesMax)
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return fields
}
