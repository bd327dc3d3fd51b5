package main

import (
	"fmt"
	"strings"
)

func cmdAlias(configPath string, args []string, e env) error {
	if len(args) == 0 {
		return usagef("alias needs a subcommand: add, del or list")
	}
	sub, rest := args[0], args[1:]
	switch {
	case sub == "list" && len(rest) != 0:
		return usagef("alias list takes no arguments")
	case sub == "del" && len(rest) != 1:
		return usagef("alias del takes one ALIAS")
	case sub == "add" && len(rest) < 2:
		return usagef("alias add takes an ALIAS and its TARGET[,TARGET...]")
	case sub != "list" && sub != "del" && sub != "add":
		return usagef("unknown alias subcommand %q", sub)
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
		aliases, err := users.Aliases()
		if err != nil {
			return err
		}
		for _, a := range aliases {
			fmt.Fprintf(e.stdout, "%s: %s\n", a.Address, strings.Join(a.Targets, ", "))
		}
		return nil
	case "del":
		if err := users.DeleteAlias(rest[0]); err != nil {
			return fmt.Errorf("alias del %s: %w", rest[0], err)
		}
		fmt.Fprintf(e.stdout, "deleted alias %s\n", rest[0])
		return nil
	}
	targets := splitTargets(rest[1:])
	if len(targets) == 0 {
		return usagef("alias add %s: no targets given", rest[0])
	}
	if err := users.AddAlias(rest[0], targets); err != nil {
		return fmt.Errorf("alias add %s: %w", rest[0], err)
	}
	fmt.Fprintf(e.stdout, "added alias %s: %s\n", strings.ToLower(rest[0]), strings.Join(targets, ", "))
	return nil
}

// splitTargets accepts "a,b", "a, b" and "a b" alike: people type all three.
func splitTargets(args []string) []string {
	var out []string
	for _, arg := range args {
		for _, t := range strings.Split(arg, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}
