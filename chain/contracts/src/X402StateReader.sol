// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title X402StateReader
/// @notice Never deployed. An eth_call without a recipient runs its
/// constructor (a "deployless" call), which reads at one block, for each
/// query, what an x402 facilitator verifies of the chain: whether the payer
/// has code (a contract wallet, checked by ERC-1271), whether the token has
/// used the authorization's nonce, the payer's token balance and the token's
/// EIP-712 domain separator; and returns them as the call's output, the
/// code a creation would have deployed. Many verifications then cost one
/// call to the node rather than four each.
/// @dev A query whose token call fails (no code there, a revert, an answer
/// that is no word) says so in its flags rather than failing the others.
contract X402StateReader {
    struct Query {
        address token;
        address from;
        bytes32 nonce;
    }

    struct State {
        uint256 flags;
        uint256 balance;
        bytes32 domainSeparator;
    }

    uint256 internal constant HAS_CODE = 1;
    uint256 internal constant NONCE_READ = 2;
    uint256 internal constant NONCE_USED = 4;
    uint256 internal constant BALANCE_READ = 8;
    uint256 internal constant DOMAIN_READ = 16;

    constructor(Query[] memory queries) {
        State[] memory states = new State[](queries.length);
        // The domain separator is the token's, read once per run of
        // queries of one token (in practice, once per call).
        address domainToken;
        bool domainOK;
        uint256 domainWord;
        for (uint256 i = 0; i < queries.length; i++) {
            Query memory q = queries[i];
            State memory s = states[i];
            if (q.from.code.length > 0) s.flags |= HAS_CODE;
            (bool ok, uint256 word) = _read(q.token, abi.encodeWithSignature("authorizationState(address,bytes32)", q.from, q.nonce));
            if (ok && word <= 1) {
                s.flags |= NONCE_READ;
                if (word == 1) s.flags |= NONCE_USED;
            }
            (ok, word) = _read(q.token, abi.encodeWithSignature("balanceOf(address)", q.from));
            if (ok) {
                s.flags |= BALANCE_READ;
                s.balance = word;
            }
            if (i == 0 || q.token != domainToken) {
                domainToken = q.token;
                (domainOK, domainWord) = _read(q.token, abi.encodeWithSignature("DOMAIN_SEPARATOR()"));
            }
            if (domainOK) {
                s.flags |= DOMAIN_READ;
                s.domainSeparator = bytes32(domainWord);
            }
        }
        bytes memory output = abi.encode(states);
        assembly {
            return(add(output, 32), mload(output))
        }
    }

    /// @dev A static call answering at least one word, and that word.
    function _read(address token, bytes memory data) private view returns (bool ok, uint256 word) {
        bytes memory answer;
        (ok, answer) = token.staticcall(data);
        if (!ok || answer.length < 32) return (false, 0);
        word = abi.decode(answer, (uint256));
    }
}
