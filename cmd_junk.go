package main

import (
	"fmt"
	"slices"

	"github.com/maildird/maildird/maildir"
	"github.com/maildird/maildird/server/auth"
)

// cmdJunk shows and edits a user's junk lists, the same lists the Spam
// button of their mail app fills.
func cmdJunk(configPath string, args []string, e env) error {
	if len(args) == 0 {
		return usagef("junk needs a subcommand: list, add, allow or del")
	}
	sub, rest := args[0], args[1:]
	switch {
	case sub == "list" && len(rest) != 1:
		return usagef("junk list takes one USER")
	case (sub == "add" || sub == "allow" || sub == "del") && len(rest) != 2:
		return usagef("junk %s takes a USER and a SENDER (address or @domain)", sub)
	case !slices.Contains([]string{"list", "add", "allow", "del"}, sub):
		return usagef("unknown junk subcommand %q", sub)
	}
	cfg, err := loadConfig(configPath)
	if err != nil {
		return err
	}
	users, err := openUsers(cfg, cliLogger(e))
	if err != nil {
		return err
	}
	user, err := auth.Normalize(rest[0])
	if err != nil {
		return fmt.Errorf("junk %s %s: %w", sub, rest[0], err)
	}
	all, err := users.Users()
	if err != nil {
		return err
	}
	if !slices.Contains(all, user) {
		return fmt.Errorf("junk %s %s: %w", sub, user, auth.ErrNoSuchUser)
	}
	store, err := maildir.Open(maildir.Options{Root: cfg.Storage.MailRoot, Logger: cliLogger(e)})
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		for _, list := range []maildir.JunkList{maildir.Blocklist, maildir.Allowlist} {
			entries, err := store.JunkEntries(user, list)
			if err != nil {
				return err
			}
			for _, entry := range entries {
				fmt.Fprintf(e.stdout, "%s %s\n", list, entry)
			}
		}
		return nil
	case "del":
		var removed bool
		for _, list := range []maildir.JunkList{maildir.Blocklist, maildir.Allowlist} {
			r, err := store.RemoveJunkEntry(user, list, rest[1])
			if err != nil {
				return fmt.Errorf("junk del %s: %w", rest[1], err)
			}
			removed = removed || r
		}
		if !removed {
			return fmt.Errorf("junk del %s: not on %s's lists", rest[1], user)
		}
		fmt.Fprintf(e.stdout, "removed %s from %s's junk lists\n", rest[1], user)
		return nil
	}
	list := maildir.Blocklist
	if sub == "allow" {
		list = maildir.Allowlist
	}
	if _, err := store.AddJunkEntry(user, list, rest[1]); err != nil {
		return fmt.Errorf("junk %s %s: %w", sub, rest[1], err)
	}
	fmt.Fprintf(e.stdout, "%s: %s is on the %slist\n", user, rest[1], list)
	return nil
}
