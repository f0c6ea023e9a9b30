package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/chain/facilitator"
	"github.com/tollway/tollway/engine/access"
)

// usageError is a bad command line: a flag or an environment variable with
// a bad value, an unknown flag, or an argument where none belongs. run
// exits 2 for it, as the go command and flag.ExitOnError do, and 1 for
// failures at run time.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// badUsage marks err as a usageError (nil stays nil).
func badUsage(err error) error {
	if err == nil || errors.As(err, new(usageError)) || errors.As(err, new(helpRequest)) {
		return err
	}
	return usageError{err}
}

// helpRequest is -h, -help or --help on a subcommand's command line: run
// prints the subcommand's flags to stdout and exits 0.
type helpRequest struct{ flags *flag.FlagSet }

func (helpRequest) Error() string { return "help requested" }

// Is makes errors.Is(err, flag.ErrHelp) hold, as for the flag package.
func (helpRequest) Is(target error) bool { return target == flag.ErrHelp }

// newFlagSet returns a subcommand's flag set: parseFlags reports its
// errors and help, so the flag package prints nothing.
func newFlagSet(name string) *flag.FlagSet {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	return flags
}

// parseFlags parses a subcommand's command line, which has flags only: a
// positional argument would stop the flag package's parsing and make the
// flags after it silently ignored, so it is refused.
func parseFlags(flags *flag.FlagSet, args []string) error {
	flags.SetOutput(io.Discard)
	err := flags.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return helpRequest{flags}
	case err != nil:
		return usageError{err}
	case flags.NArg() > 0:
		return usageError{fmt.Errorf("unexpected argument %q: %s takes flags only", flags.Arg(0), flags.Name())}
	}
	return nil
}

// printFlags writes the flags of a flag set, sorted, one per entry, with
// their type, default and variable.
func printFlags(w io.Writer, flags *flag.FlagSet) {
	flags.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if t, ok := f.Value.(interface{ typeName() string }); ok {
			name = t.typeName()
		}
		if name != "" {
			name = " " + name
		}
		fmt.Fprintf(w, "  --%s%s\n    \t%s", f.Name, name, usage)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// envFlags is a flag set whose every flag also reads the environment
// variable TOLLWAY_<NAME> (envName): the variable sets the value before the
// command line is parsed, so flags win, and a bad value is reported naming
// the variable, or the flag when it came from the command line.
type envFlags struct {
	*flag.FlagSet
}

func newEnvFlags(name string) envFlags { return envFlags{newFlagSet(name)} }

// envName is the variable of flag name: TOLLWAY_ and name in upper case,
// hyphens as underscores (fee-bps: TOLLWAY_FEE_BPS).
func envName(name string) string {
	return "TOLLWAY_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Var defines a flag and names its variable in its usage.
func (f envFlags) Var(value flag.Value, name, usage string) {
	f.FlagSet.Var(value, name, usage+" ("+envName(name)+")")
}

// parse applies the variables, then the command line. A variable's bad
// value is an error only when the flag does not replace it.
func (f envFlags) parse(args []string) error {
	envErrs := map[string]error{}
	f.VisitAll(func(fl *flag.Flag) {
		env := envName(fl.Name)
		if text, ok := os.LookupEnv(env); ok {
			if err := fl.Value.Set(text); err != nil {
				envErrs[fl.Name] = usageError{fmt.Errorf("%s=%q: %w", env, text, err)}
			}
		}
	})
	if err := parseFlags(f.FlagSet, args); err != nil {
		return err
	}
	onCommandLine := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { onCommandLine[fl.Name] = true })
	var first error
	f.VisitAll(func(fl *flag.Flag) { // in lexical order: the same error every time
		if first != nil {
			return
		}
		if err := envErrs[fl.Name]; err != nil && !onCommandLine[fl.Name] {
			first = err
		} else if c, ok := fl.Value.(interface{ check() error }); ok {
			if err := c.check(); err != nil {
				source := envName(fl.Name)
				if onCommandLine[fl.Name] {
					source = "--" + fl.Name
				}
				first = usageError{fmt.Errorf("%s: %w", source, err)}
			}
		}
	})
	return first
}

// The flag.Values below check what they are set to, so that a bad value
// is refused with the same reason from a flag or a variable.

// intFlag is an integer from min to max.
type intFlag[T int | int64 | uint32] struct {
	p        *T
	min, max int64
	want     string // the error: what a valid value is
}

func newIntFlag[T int | int64 | uint32](p *T, value T, min, max int64, want string) *intFlag[T] {
	*p = value
	return &intFlag[T]{p: p, min: min, max: max, want: want}
}

func (v *intFlag[T]) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatInt(int64(*v.p), 10)
}

func (v *intFlag[T]) Set(text string) error {
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < v.min || n > v.max {
		return errors.New(v.want)
	}
	*v.p = T(n)
	return nil
}

func (v *intFlag[T]) typeName() string { return "int" }

// durationFlag is a duration from min to max (time.ParseDuration).
type durationFlag struct {
	p        *time.Duration
	min, max time.Duration
}

func newDurationFlag(p *time.Duration, value, min, max time.Duration) *durationFlag {
	*p = value
	return &durationFlag{p: p, min: min, max: max}
}

func (v *durationFlag) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}

func (v *durationFlag) Set(text string) error {
	d, err := time.ParseDuration(text)
	if err != nil || d < v.min || d > v.max {
		return fmt.Errorf("want a duration from %v to %v, such as 10s", v.min, v.max)
	}
	*v.p = d
	return nil
}

func (v *durationFlag) typeName() string { return "duration" }

// boolFlag is true or false; the flag alone means true.
type boolFlag struct{ p *bool }

func newBoolFlag(p *bool) *boolFlag { return &boolFlag{p} }

func (v *boolFlag) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatBool(*v.p)
}

func (v *boolFlag) Set(text string) error {
	b, err := strconv.ParseBool(text)
	if err != nil {
		return errors.New("want true or false")
	}
	*v.p = b
	return nil
}

func (v *boolFlag) IsBoolFlag() bool { return true }
func (v *boolFlag) typeName() string { return "" }

// stringFlag is a string.
type stringFlag struct{ p *string }

func newStringFlag(p *string, value string) *stringFlag {
	*p = value
	return &stringFlag{p}
}

func (v *stringFlag) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *stringFlag) Set(text string) error { *v.p = text; return nil }
func (v *stringFlag) typeName() string      { return "string" }

// secretFlag is a secret of at least min bytes, or empty to have one
// generated. Its value is checked after parsing (check) so that the error
// never quotes it: the flag package's and the variable's errors would.
type secretFlag struct {
	stringFlag
	min int
}

func newSecretFlag(p *string, min int) *secretFlag { return &secretFlag{stringFlag{p}, min} }

func (v *secretFlag) check() error {
	if n := len(*v.p); n != 0 && n < v.min {
		return fmt.Errorf("%d bytes: want at least %d, or none to have one generated", n, v.min)
	}
	return nil
}

// rateFlag is a token bucket, requests/duration (access.ParseRateLimit).
type rateFlag struct{ p *access.RateLimit }

func newRateFlag(p *access.RateLimit, value string) *rateFlag {
	r, err := access.ParseRateLimit(value)
	if err != nil {
		panic(fmt.Sprintf("default rate limit %q: %v", value, err)) // a constant of this program
	}
	*p = r
	return &rateFlag{p}
}

func (v *rateFlag) String() string {
	if v.p == nil {
		return ""
	}
	return fmt.Sprintf("%d/%ds", v.p.Requests, v.p.PerSeconds)
}

func (v *rateFlag) Set(text string) error {
	r, err := access.ParseRateLimit(text)
	if err != nil {
		return err
	}
	*v.p = r
	return nil
}

func (v *rateFlag) typeName() string { return "requests/duration" }

// levelFlag is a log level.
type levelFlag struct{ p *slog.Level }

func (v *levelFlag) String() string {
	if v.p == nil {
		return ""
	}
	return strings.ToLower(v.p.String())
}

func (v *levelFlag) Set(text string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(text)); err != nil {
		return errors.New("want debug, info, warn or error")
	}
	*v.p = l
	return nil
}

func (v *levelFlag) typeName() string { return "level" }

// chainFlag chooses the chain settlements go to: "embedded" (the local
// chain in the data directory) or "none".
type chainFlag struct{ p *string }

func (v *chainFlag) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *chainFlag) Set(text string) error {
	if text != chainEmbedded && text != chainNone {
		return errors.New("want embedded or none")
	}
	*v.p = text
	return nil
}

func (v *chainFlag) typeName() string { return "mode" }

// settleModeFlag is --x402-settle: payment or batch.
type settleModeFlag struct{ p *facilitator.SettleMode }

func (v *settleModeFlag) String() string {
	if v.p == nil {
		return ""
	}
	return string(*v.p)
}

func (v *settleModeFlag) Set(text string) error {
	mode := facilitator.SettleMode(text)
	if mode != facilitator.SettlePerPayment && mode != facilitator.SettleBatch {
		return errors.New("want payment or batch")
	}
	*v.p = mode
	return nil
}

func (v *settleModeFlag) typeName() string { return "mode" }

const (
	chainEmbedded = "embedded"
	chainNone     = "none"
	// chainRemote is no value of --chain: it is the mode --chain-rpc sets.
	chainRemote = "rpc"
)

// rpcURLFlag is a node's JSON-RPC URL: http(s) or ws(s), with a host. It is
// checked after parsing (check), so that the error never quotes it: a
// provider's URL may carry a key.
type rpcURLFlag struct{ stringFlag }

func (v *rpcURLFlag) check() error {
	if *v.p == "" {
		return nil
	}
	u, err := url.Parse(*v.p)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return errors.New("want an http(s):// or ws(s):// URL with a host")
	}
	return nil
}

func (v *rpcURLFlag) typeName() string { return "url" }

// addressFlag is an Ethereum address, 0x and 40 hex digits.
type addressFlag struct{ p *common.Address }

func (v *addressFlag) String() string {
	if v.p == nil || *v.p == (common.Address{}) {
		return ""
	}
	return v.p.Hex()
}

func (v *addressFlag) Set(text string) error {
	if len(text) != 42 || !common.IsHexAddress(text) {
		return errors.New("want a 0x-prefixed 20-byte hex address")
	}
	*v.p = common.HexToAddress(text)
	return nil
}

func (v *addressFlag) typeName() string { return "address" }

// setFlag records that its flag was set, from the command line or the
// environment, where the value alone cannot tell (a default may be set
// explicitly).
type setFlag struct {
	flag.Value
	set *bool
}

func (v setFlag) String() string {
	if v.Value == nil {
		return ""
	}
	return v.Value.String()
}

func (v setFlag) Set(text string) error {
	if err := v.Value.Set(text); err != nil {
		return err
	}
	*v.set = true
	return nil
}

func (v setFlag) typeName() string {
	if t, ok := v.Value.(interface{ typeName() string }); ok {
		return t.typeName()
	}
	return ""
}

// urlFlag is the server's public URL: http or https, a host, nothing else.
type urlFlag struct{ p **url.URL }

func (v *urlFlag) String() string {
	if v.p == nil || *v.p == nil {
		return ""
	}
	return (*v.p).String()
}

func (v *urlFlag) Set(text string) error {
	if text == "" { // the default
		*v.p = nil
		return nil
	}
	u, err := parsePublicURL(text)
	if err != nil {
		return err
	}
	*v.p = u
	return nil
}

func (v *urlFlag) typeName() string { return "url" }

// parsePublicURL accepts http(s)://host[:port] with at most a trailing
// slash: the URL is the server's origin, which Sign-In with Ethereum
// messages name (its host as their domain), and the server serves its API
// at the root. The host is lowered, as browsers and wallets compare it.
func parsePublicURL(text string) (*url.URL, error) {
	const want = "want http(s)://host[:port]"
	u, err := url.Parse(text)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, errors.New(want)
	}
	host := strings.ToLower(u.Host)
	// The scheme's own port is left out, as browsers and wallets do.
	if port := u.Port(); (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		host = strings.TrimSuffix(host, ":"+port)
	}
	return &url.URL{Scheme: u.Scheme, Host: host}, nil
}
