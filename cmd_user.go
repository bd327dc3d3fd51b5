package main

import (
	"fmt"
	"strings"
)

func cmdUser(configPath string, args []string, e env) error {
	if len(args) == 0 {
		return usagef("user needs a subcommand: add, passwd, del or list")
	}
	sub, rest := args[0], args[1:]
	if sub == "list" {
		if len(rest) > 0 {
			return usagef("user list takes no arguments")
		}
	} else if len(rest) != 1 {
		return usagef("user %s takes one ADDRESS", sub)
	}
	switch sub {
	case "add", "passwd", "del", "list":
	default:
		return usagef("unknown user subcommand %q", sub)
	}

	cfg, err := loadConfig(configPath)
	if err != nil {
		return err
	}
	users, err := openUsers(cfg, cliLogger(e))
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		list, err := users.Users()
		if err != nil {
			return err
		}
		for _, u := range list {
			fmt.Fprintln(e.stdout, u)
		}
		return nil
	case "del":
		if err := users.DeleteUser(rest[0]); err != nil {
			return fmt.Errorf("user del %s: %w", rest[0], err)
		}
		fmt.Fprintf(e.stdout, "deleted %s (their mail stays in %s)\n", rest[0], cfg.Storage.MailRoot)
		return nil
	}

	password, err := readPassword(e)
	if err != nil {
		return err
	}
	if sub == "add" {
		if err := users.AddUser(rest[0], password); err != nil {
			return fmt.Errorf("user add %s: %w", rest[0], err)
		}
		fmt.Fprintf(e.stdout, "added %s\n", strings.ToLower(rest[0]))
		return nil
	}
	if err := users.SetPassword(rest[0], password); err != nil {
		return fmt.Errorf("user passwd %s: %w", rest[0], err)
	}
	fmt.Fprintf(e.stdout, "password changed for %s\n", strings.ToLower(rest[0]))
	return nil
}
