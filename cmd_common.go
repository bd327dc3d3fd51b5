package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/maildird/maildird/server/auth"
	"github.com/maildird/maildird/server/config"
)

// loadConfig loads FILE, or builds the built-in local configuration when
// no -config was given.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		dir, err := filepath.Abs(localDataDir)
		if err != nil {
			return nil, fmt.Errorf("locating %s: %w", localDataDir, err)
		}
		return config.Local(dir), nil
	}
	return config.Load(path)
}

// openUsers opens the users and aliases of cfg's data dir.
func openUsers(cfg *config.Config, logger *slog.Logger) (*auth.Store, error) {
	return auth.Open(cfg.Server.DataDir, auth.Options{Domains: cfg.Server.Domains, Logger: logger})
}

// cliLogger is the logger of the one-shot commands: warnings only, on
// stderr, so that `user list` output stays clean for scripts.
func cliLogger(e env) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// maxPasswordLine bounds what is read from a pipe as the password, so a
// mistaken `maildird user add x < bigfile` fails instead of eating memory.
const maxPasswordLine = 4096

// readPassword reads a new password: prompted twice without echo on a
// terminal, otherwise the first line of standard input.
func readPassword(e env) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && e.stdinIsTerminal {
		return promptPassword(f, e.stderr)
	}
	line, err := bufio.NewReaderSize(io.LimitReader(e.stdin, maxPasswordLine+1), maxPasswordLine+1).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	if len(line) > maxPasswordLine {
		return "", fmt.Errorf("the password on standard input is longer than %d bytes", maxPasswordLine)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("empty password: give the password on standard input (one line) or run the command on a terminal")
	}
	return pw, nil
}

// promptPassword asks twice on a terminal. Echo goes off before the first
// prompt is printed and stays off until the end, so a password typed or
// pasted the moment the prompt appears is never shown.
func promptPassword(f *os.File, prompt io.Writer) (pw string, err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", fmt.Errorf("reading the terminal settings: %w", err)
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", fmt.Errorf("turning the terminal echo off: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	return askTwice(fd, prompt)
}

func askTwice(fd int, prompt io.Writer) (string, error) {
	fmt.Fprint(prompt, "Password: ")
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if len(first) == 0 {
		return "", errors.New("empty password")
	}
	fmt.Fprint(prompt, "Again: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if string(first) != string(second) {
		return "", errors.New("the two passwords differ")
	}
	return string(first), nil
}
