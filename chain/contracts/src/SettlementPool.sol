// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title SettlementPool
/// @notice Consumers fund the pool once; Tollway debits them off chain per
/// call and its relayer settles the netted debits here in batches: each
/// entry takes `amount` from the payer's pool balance, pays `amount - fee`
/// USDC to the payee and `fee` to the fee recipient.
/// @dev Invariants:
/// - The pool holds at least `totalBalances` USDC, the sum of all balances:
///   deposits add to both, settlements and withdrawals take from both.
/// - A batch id settles at most once (`settled`), so a relayer that resends
///   after a crash cannot pay twice; it recognises `BatchAlreadySettled`.
/// - A withdrawal completes only `withdrawalDelay` seconds after its request
///   and pays at most the balance left then. The delay MUST be longer than
///   the relayer's settlement deadline (the time within which it settles
///   every debit made before it saw the request), so no consumer escapes
///   charges already made: they are settled before the withdrawal can
///   complete, and what they took is no longer paid out.
/// - Pausing stops deposits and settlements, never withdrawals: the admin
///   cannot lock consumers' money in. The price: while paused, a withdrawal
///   whose delay runs out is paid before its charges can be settled, so a
///   pause should last less than the withdrawal delay.
contract SettlementPool is AccessControl, Pausable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice The role allowed to call settleBatch.
    bytes32 public constant RELAYER_ROLE = keccak256("RELAYER_ROLE");

    /// @notice The longest withdrawal delay the constructor accepts, so a
    /// mistaken deployment cannot lock deposits in for years.
    uint256 public constant WITHDRAWAL_DELAY_MAX = 30 days;

    /// @notice One netted debit: `amount` from `from`'s pool balance, of which
    /// `fee` goes to the fee recipient and the rest to `to` in USDC.
    struct Entry {
        address from;
        address to;
        uint256 amount;
        uint256 fee;
    }

    struct Withdrawal {
        uint256 amount;
        uint256 availableAt;
    }

    IERC20 public immutable usdc;
    uint256 private immutable _withdrawalDelay;

    address public feeRecipient;
    uint256 public totalBalances;
    mapping(address => uint256) private _balances;
    mapping(address => Withdrawal) private _withdrawals;
    mapping(bytes32 => bool) public settled;

    event Deposited(address indexed account, address indexed payer, uint256 amount);
    event WithdrawalRequested(address indexed account, uint256 amount, uint256 availableAt);
    event Withdrawn(address indexed account, uint256 amount);
    event BatchSettled(bytes32 indexed batchId, uint256 entries, uint256 total, uint256 fees);
    /// @notice One per settled entry, so the pool's balances can be audited
    /// from its logs alone.
    event EntrySettled(
        bytes32 indexed batchId, address indexed from, address indexed to, uint256 amount, uint256 fee
    );
    event FeeRecipientChanged(address indexed previousRecipient, address indexed newRecipient);

    error ZeroAddress();
    error ZeroAmount();
    error WithdrawalDelayOutOfRange(uint256 delay);
    error InsufficientPoolBalance(address account, uint256 balance, uint256 needed);
    error NoPendingWithdrawal(address account);
    error WithdrawalNotYetAvailable(uint256 availableAt);
    error BatchAlreadySettled(bytes32 batchId);
    error EmptyBatch();
    error FeeAboveAmount(uint256 index, uint256 amount, uint256 fee);

    /// @param usdc_ the token deposited and paid out.
    /// @param feeRecipient_ receives every entry's fee.
    /// @param relayer granted RELAYER_ROLE.
    /// @param admin granted DEFAULT_ADMIN_ROLE: pauses, sets the fee
    /// recipient, grants and revokes the relayer role.
    /// @param withdrawalDelay_ seconds between a withdrawal request and its
    /// completion; longer than the relayer's settlement deadline (see above).
    constructor(address usdc_, address feeRecipient_, address relayer, address admin, uint256 withdrawalDelay_) {
        if (usdc_ == address(0) || feeRecipient_ == address(0) || relayer == address(0) || admin == address(0)) {
            revert ZeroAddress();
        }
        if (withdrawalDelay_ == 0 || withdrawalDelay_ > WITHDRAWAL_DELAY_MAX) {
            revert WithdrawalDelayOutOfRange(withdrawalDelay_);
        }
        usdc = IERC20(usdc_);
        _withdrawalDelay = withdrawalDelay_;
        feeRecipient = feeRecipient_;
        emit FeeRecipientChanged(address(0), feeRecipient_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(RELAYER_ROLE, relayer);
    }

    // ---- deposits ----

    /// @notice Moves `amount` USDC from the caller (after approve or permit)
    /// into the caller's pool balance.
    function deposit(uint256 amount) external {
        _deposit(msg.sender, amount);
    }

    /// @notice As deposit, credited to `account`: anyone may fund anyone.
    function depositFor(address account, uint256 amount) external {
        if (account == address(0)) {
            revert ZeroAddress();
        }
        _deposit(account, amount);
    }

    function _deposit(address account, uint256 amount) private whenNotPaused nonReentrant {
        if (amount == 0) {
            revert ZeroAmount();
        }
        _balances[account] += amount;
        totalBalances += amount;
        emit Deposited(account, msg.sender, amount);
        usdc.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice The account's pool balance: what it deposited less what was
    /// settled from it and withdrawn.
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    // ---- withdrawals (never paused) ----

    /// @notice Seconds between a withdrawal request and its completion.
    function withdrawalDelay() external view returns (uint256) {
        return _withdrawalDelay;
    }

    /// @notice Asks to withdraw `amount` after withdrawalDelay. A new request
    /// replaces the pending one and restarts the delay, so the relayer always
    /// has the full delay to settle what was charged before the request.
    function requestWithdrawal(uint256 amount) external {
        if (amount == 0) {
            revert ZeroAmount();
        }
        uint256 balance = _balances[msg.sender];
        if (amount > balance) {
            revert InsufficientPoolBalance(msg.sender, balance, amount);
        }
        uint256 availableAt = block.timestamp + _withdrawalDelay;
        _withdrawals[msg.sender] = Withdrawal(amount, availableAt);
        emit WithdrawalRequested(msg.sender, amount, availableAt);
    }

    /// @notice Pays the pending withdrawal once its delay has passed: the
    /// amount requested, or the balance left if settlements during the delay
    /// took part of it (possibly zero, which still clears the request).
    function finalizeWithdrawal() external nonReentrant {
        Withdrawal memory pending = _withdrawals[msg.sender];
        if (pending.availableAt == 0) {
            revert NoPendingWithdrawal(msg.sender);
        }
        if (block.timestamp < pending.availableAt) {
            revert WithdrawalNotYetAvailable(pending.availableAt);
        }
        uint256 balance = _balances[msg.sender];
        uint256 amount = pending.amount < balance ? pending.amount : balance;
        delete _withdrawals[msg.sender];
        _balances[msg.sender] = balance - amount;
        totalBalances -= amount;
        emit Withdrawn(msg.sender, amount);
        if (amount > 0) {
            usdc.safeTransfer(msg.sender, amount);
        }
    }

    /// @notice The pending withdrawal, or (0, 0) when there is none.
    function pendingWithdrawal(address account) external view returns (uint256 amount, uint256 availableAt) {
        Withdrawal memory pending = _withdrawals[account];
        return (pending.amount, pending.availableAt);
    }

    // ---- settlement ----

    /// @notice Settles one batch of netted debits, all or nothing: an entry
    /// whose payer's balance is short, or whose fee exceeds its amount,
    /// reverts the whole batch. A batch id settles once.
    function settleBatch(bytes32 batchId, Entry[] calldata entries)
        external
        onlyRole(RELAYER_ROLE)
        whenNotPaused
        nonReentrant
    {
        if (settled[batchId]) {
            revert BatchAlreadySettled(batchId);
        }
        if (entries.length == 0) {
            revert EmptyBatch();
        }
        settled[batchId] = true;
        uint256 total;
        uint256 fees;
        for (uint256 i = 0; i < entries.length; i++) {
            Entry calldata entry = entries[i];
            if (entry.fee > entry.amount) {
                revert FeeAboveAmount(i, entry.amount, entry.fee);
            }
            if (entry.to == address(0)) {
                revert ZeroAddress();
            }
            uint256 balance = _balances[entry.from];
            if (entry.amount > balance) {
                revert InsufficientPoolBalance(entry.from, balance, entry.amount);
            }
            unchecked {
                _balances[entry.from] = balance - entry.amount;
            }
            total += entry.amount;
            fees += entry.fee;
            emit EntrySettled(batchId, entry.from, entry.to, entry.amount, entry.fee);
            uint256 payout = entry.amount - entry.fee;
            if (payout > 0) {
                usdc.safeTransfer(entry.to, payout);
            }
        }
        totalBalances -= total;
        emit BatchSettled(batchId, entries.length, total, fees);
        // The fees go out in one transfer per batch, not one per entry.
        if (fees > 0) {
            usdc.safeTransfer(feeRecipient, fees);
        }
    }

    // ---- administration ----

    /// @notice Stops deposits and settlements; withdrawals keep working.
    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    /// @notice Sends future fees to `newRecipient`.
    function setFeeRecipient(address newRecipient) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newRecipient == address(0)) {
            revert ZeroAddress();
        }
        emit FeeRecipientChanged(feeRecipient, newRecipient);
        feeRecipient = newRecipient;
    }
}
