// Command maildird is a small, complete mail server: SMTP intake and
// submission, IMAP and POP3 over Dovecot-compatible Maildirs, outbound
// delivery and its own TLS certificates, in one static binary.
//
// This file holds only the command line: flags, the choice of command and
// the exit codes. Each command lives in its own cmd_*.go file; protocol code
// lives under server/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped by build.sh with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // the command line was wrong
)

// localDataDir is where the built-in configuration keeps its data when
// maildird runs with no -config: the current directory, so a first try
// needs no root and leaves nothing elsewhere.
const localDataDir = "maildird-data"

const usageText = `usage: maildird [-config FILE] [command]

commands:
  serve                           run the server (the default)
  user add ADDRESS                add a user; the password is read from standard
                                  input, or prompted for on a terminal
  user passwd ADDRESS             change a user's password (read the same way)
  user del ADDRESS                delete a user (their mail stays on disk)
  user list                       list the users
  alias add ALIAS TARGET[,TARGET] deliver mail for ALIAS to the targets
  alias del ALIAS                 delete an alias
  alias list                      list the aliases
  junk list USER                  show USER's junk block and allow lists
  junk add USER SENDER            send mail from SENDER (address or @domain) to Junk
  junk allow USER SENDER          always deliver mail from SENDER to the inbox
  junk del USER SENDER            take SENDER off both lists
  queue list                      show the outbound queue
  queue flush                     retry every queued message now
  queue delete ID                 drop a queued message
  dns                             print the DNS records to publish (MX, SPF,
                                  DKIM, DMARC, autoconfig and SRV)
  sendmail [-t] [-f FROM] [RCPT...]
                                  send the message on standard input (-t: the
                                  recipients are in its To, Cc and Bcc)
  check                           check the configuration and the data dir
  version                         print the version

Without -config, maildird uses a built-in configuration for trying it out:
data in ./maildird-data, listeners on 127.0.0.1 high ports, a self-signed
certificate and the local domain "localhost".

flags:
`

// env is what a command may touch of the outside world; tests provide
// their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stdinIsTerminal decides whether passwords are prompted for.
	stdinIsTerminal bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	e := env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, stdinIsTerminal: isTerminal(os.Stdin)}
	os.Exit(run(ctx, os.Args[1:], e))
}

// usageError is a wrong command line: usage is printed and the exit code is 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// run parses args and runs one command. It returns the process exit code.
func run(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("maildird", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := fs.String("config", "", "the configuration `FILE` (default: the built-in local configuration)")
	fs.Usage = func() {
		fmt.Fprint(e.stderr, usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	err := dispatch(ctx, *configPath, fs.Args(), e)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "maildird: %s\n\n", ue.msg)
		fs.Usage()
		return exitUsage
	default:
		fmt.Fprintf(e.stderr, "maildird: %v\n", err)
		return exitError
	}
}

func dispatch(ctx context.Context, configPath string, args []string, e env) error {
	if len(args) == 0 {
		return cmdServe(ctx, configPath, e)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		if len(rest) > 0 {
			return usagef("serve takes no arguments")
		}
		return cmdServe(ctx, configPath, e)
	case "user":
		return cmdUser(configPath, rest, e)
	case "alias":
		return cmdAlias(configPath, rest, e)
	case "junk":
		return cmdJunk(configPath, rest, e)
	case "queue":
		return cmdQueue(configPath, rest, e)
	case "dns":
		if len(rest) > 0 {
			return usagef("dns takes no arguments")
		}
		return cmdDNS(configPath, e)
	case "sendmail":
		return cmdSendmail(configPath, rest, e)
	case "check":
		if len(rest) > 0 {
			return usagef("check takes no arguments")
		}
		return cmdCheck(configPath, e)
	case "version":
		if len(rest) > 0 {
			return usagef("version takes no arguments")
		}
		fmt.Fprintf(e.stdout, "maildird %s\n", version)
		return nil
	default:
		return usagef("unknown command %q", cmd)
	}
}
