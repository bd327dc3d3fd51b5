package imap

import (
	"reflect"
	"slices"
	"strings"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildird/maildird/maildir"
)

// List serves LIST and LSUB (RFC 3501 §6.3.8-9), with LIST-EXTENDED (RFC
// 5258: SUBSCRIBED, RECURSIVEMATCH and SPECIAL-USE selection, CHILDREN,
// SUBSCRIBED and SPECIAL-USE return options), LIST-STATUS (RFC 5819) and
// SPECIAL-USE (RFC 6154). imapserver gives LSUB as a LIST selecting
// subscribed folders. The answers are written here (writeListRaw) as
// Dovecot writes them, attributes and name encoding; go-imap's writer is
// left for LIST-STATUS, RECURSIVEMATCH, UTF-8 names and commands the
// connection did not record.
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *goimap.ListOptions) error {
	s.touch()
	if len(patterns) == 0 {
		// LIST "" "": the hierarchy separator and the root (RFC 3501 §6.3.8).
		return w.WriteList(&goimap.ListData{Attrs: []goimap.MailboxAttr{goimap.MailboxAttrNoSelect}, Delim: delim, Mailbox: ""})
	}
	st := s.srv.opts.Store
	folders, err := st.Folders(s.user)
	if err != nil {
		return storeError(err)
	}
	var subs map[string]bool
	if options.SelectSubscribed || options.ReturnSubscribed {
		names, err := st.Subscriptions(s.user)
		if err != nil {
			return storeError(err)
		}
		subs = make(map[string]bool, len(names))
		for _, n := range names {
			subs[canonicalName(n)] = true
		}
	}
	full := make([]string, len(patterns))
	for i, p := range patterns {
		full[i] = canonicalName(ref + p)
		if strings.HasPrefix(p, string(delim)) {
			full[i] = canonicalName(p)
		}
	}
	match := func(name string) bool {
		for _, p := range full {
			if imapserver.MatchList(name, delim, "", p) {
				return true
			}
		}
		return false
	}
	exists := make(map[string]*maildir.Folder, len(folders))
	for i := range folders {
		exists[folders[i].Name] = &folders[i]
	}

	verb := listVerb(s.conn)
	lsub := verb == "LSUB" || verb == "" && isLSUB(w)
	var out []*goimap.ListData
	if options.SelectSubscribed {
		out = s.listSubscribed(folders, exists, subs, match, options, lsub)
		if lsub {
			out = append(out, impliedLSUBParents(folders, exists, subs, patterns, full, out)...)
		}
	} else {
		for i := range folders {
			f := &folders[i]
			if !match(f.Name) {
				continue
			}
			if options.SelectSpecialUse && f.Use == maildir.UseNone {
				continue
			}
			out = append(out, listData(f, subs[f.Name] && options.ReturnSubscribed))
		}
	}
	caps := s.conn.EnabledCaps()
	utf8Names := caps.Has(goimap.CapIMAP4rev2) || caps.Has(goimap.CapUTF8Accept)
	if verb != "" && options.ReturnStatus == nil && !options.SelectRecursiveMatch && !utf8Names {
		return s.writeListRaw(out, verb, lsub, options, len(patterns) > 1)
	}
	for _, d := range out {
		if options.ReturnStatus != nil && !hasAttr(d.Attrs, goimap.MailboxAttrNoSelect) && !hasAttr(d.Attrs, goimap.MailboxAttrNonExistent) {
			if st, err := s.status(d.Mailbox, options.ReturnStatus); err == nil {
				d.Status = st
			}
		}
		if err := w.WriteList(d); err != nil {
			return err
		}
	}
	return nil
}

// listAttrs picks and orders the attributes Dovecot shows (see
// writeListRaw): \Subscribed, \NonExistent, CHILDREN's, then the role.
func listAttrs(have []goimap.MailboxAttr, lsub, extended bool, o *goimap.ListOptions) []goimap.MailboxAttr {
	var attrs []goimap.MailboxAttr
	switch {
	case lsub:
		for _, a := range have {
			if a == goimap.MailboxAttrNoSelect || hasSpecialUse([]goimap.MailboxAttr{a}) {
				attrs = append(attrs, a)
			}
		}
		return attrs
	case !extended:
		return have
	}
	if (o.SelectSubscribed || o.ReturnSubscribed) && hasAttr(have, goimap.MailboxAttrSubscribed) {
		attrs = append(attrs, goimap.MailboxAttrSubscribed)
	}
	if hasAttr(have, goimap.MailboxAttrNoSelect) || hasAttr(have, goimap.MailboxAttrNonExistent) {
		attrs = append(attrs, goimap.MailboxAttrNonExistent)
	}
	if o.ReturnChildren {
		if hasAttr(have, goimap.MailboxAttrHasChildren) {
			attrs = append(attrs, goimap.MailboxAttrHasChildren)
		} else {
			attrs = append(attrs, goimap.MailboxAttrHasNoChildren)
		}
	}
	if o.ReturnSpecialUse || o.SelectSpecialUse {
		for _, a := range have {
			if hasSpecialUse([]goimap.MailboxAttr{a}) {
				attrs = append(attrs, a)
			}
		}
	}
	return attrs
}

// listVerb is "LIST" or "LSUB" from the command as the client sent it,
// "" when the connection did not record it.
func listVerb(c *imapserver.Conn) string {
	cmd, ok := commandOf(c)
	if !ok {
		return ""
	}
	f := strings.Fields(cmd)
	if len(f) < 2 {
		return ""
	}
	switch v := strings.ToUpper(f[1]); v {
	case "LIST", "LSUB":
		return v
	}
	return ""
}

// impliedLSUBParents: LSUB with a trailing "%" lists, as \Noselect, an
// unsubscribed folder that has subscribed folders below it (RFC 3501
// §6.3.9), as Dovecot does.
func impliedLSUBParents(folders []maildir.Folder, exists map[string]*maildir.Folder, subs map[string]bool, patterns, full []string, listed []*goimap.ListData) []*goimap.ListData {
	seen := map[string]bool{}
	for _, d := range listed {
		seen[d.Mailbox] = true
	}
	var out []*goimap.ListData
	for i, p := range patterns {
		if !strings.HasSuffix(p, "%") {
			continue
		}
		for _, f := range folders {
			name := f.Name
			if seen[name] || subs[name] || !imapserver.MatchList(name, delim, "", full[i]) || !hasSubscribedBelow(name, subs) {
				continue
			}
			seen[name] = true
			out = append(out, &goimap.ListData{Delim: delim, Mailbox: name, Attrs: []goimap.MailboxAttr{goimap.MailboxAttrNoSelect}})
		}
	}
	return out
}

// writeListRaw writes LIST or LSUB answers with Dovecot's attributes and
// its mailbox name encoding (an atom where one will do). A basic LIST
// shows \Noselect, CHILDREN's attributes and the special-use role; an
// extended one (selection or return options, several patterns) only what
// was asked for, \NonExistent for a parent that is not a folder; LSUB the
// role and \Noselect.
func (s *session) writeListRaw(list []*goimap.ListData, verb string, lsub bool, o *goimap.ListOptions, patterns bool) error {
	extended := !lsub && (o.SelectSubscribed || o.SelectRemote || o.SelectSpecialUse || o.ReturnSubscribed ||
		o.ReturnChildren || o.ReturnSpecialUse || patterns)
	out := newFetchOut(s.conn.NetConn())
	var b []byte
	for _, d := range list {
		attrs := listAttrs(d.Attrs, lsub, extended, o)
		b = append(b[:0], "* "...)
		b = append(b, verb...)
		b = append(b, " ("...)
		for i, a := range attrs {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, a...)
		}
		b = append(b, `) "`...)
		b = append(b, byte(d.Delim))
		b = append(b, `" `...)
		name, err := maildir.EncodeMUTF7(d.Mailbox)
		if err != nil {
			name = d.Mailbox
		}
		b = appendAString(b, name)
		b = append(b, "\r\n"...)
		out.write(b)
	}
	return out.close()
}

// listSubscribed lists the subscribed folders that match (LSUB, and LIST
// (SUBSCRIBED)), including subscriptions whose folder is gone
// (\NonExistent), and with RECURSIVEMATCH the unsubscribed parents of
// subscribed folders with CHILDINFO (RFC 5258 §3.5).
func (s *session) listSubscribed(folders []maildir.Folder, exists map[string]*maildir.Folder, subs map[string]bool, match func(string) bool, options *goimap.ListOptions, lsub bool) []*goimap.ListData {
	var out []*goimap.ListData
	seen := map[string]bool{}
	add := func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		var d *goimap.ListData
		switch f := exists[name]; {
		case f != nil:
			d = listData(f, !lsub)
		case lsub:
			// A subscription whose folder is gone (Dovecot shows it
			// with no attribute).
			d = &goimap.ListData{Delim: delim, Mailbox: name}
		default:
			d = &goimap.ListData{Delim: delim, Mailbox: name, Attrs: []goimap.MailboxAttr{goimap.MailboxAttrNonExistent, goimap.MailboxAttrSubscribed}}
		}
		if options.SelectSpecialUse && !hasSpecialUse(d.Attrs) {
			return
		}
		out = append(out, d)
	}
	// Folders in list order first, then subscriptions without a folder.
	for i := range folders {
		name := folders[i].Name
		if subs[name] && match(name) {
			add(name)
		} else if options.SelectRecursiveMatch && match(name) && hasSubscribedBelow(name, subs) {
			seen[name] = true
			d := listData(&folders[i], false)
			d.ChildInfo = &goimap.ListDataChildInfo{Subscribed: true}
			out = append(out, d)
		}
	}
	var gone []string
	for name := range subs {
		if exists[name] == nil && match(name) {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	for _, name := range gone {
		add(name)
	}
	return out
}

// isLSUB tells LSUB from LIST (SUBSCRIBED), which imapserver passes alike:
// LSUB shows no \Subscribed (RFC 3501 §7.2.3), LIST (SUBSCRIBED) must
// (RFC 5258 §3). go-imap beta.8 keeps the difference in an unexported
// field of the writer; reading it is the only way short of a fork.
func isLSUB(w *imapserver.ListWriter) bool {
	f := reflect.ValueOf(w).Elem().FieldByName("lsub")
	return f.IsValid() && f.Kind() == reflect.Bool && f.Bool()
}

func hasSubscribedBelow(name string, subs map[string]bool) bool {
	prefix := name + string(delim)
	for n := range subs {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// listData describes one folder: \Noselect for a parent that exists only
// by implication, CHILDREN's attributes, \Subscribed when asked, and the
// special-use role, which RFC 6154 §2 lets a server always show.
func listData(f *maildir.Folder, subscribed bool) *goimap.ListData {
	d := &goimap.ListData{Delim: delim, Mailbox: f.Name}
	if f.NoSelect {
		d.Attrs = append(d.Attrs, goimap.MailboxAttrNoSelect)
	}
	if subscribed {
		d.Attrs = append(d.Attrs, goimap.MailboxAttrSubscribed)
	}
	if f.HasChildren {
		d.Attrs = append(d.Attrs, goimap.MailboxAttrHasChildren)
	} else {
		d.Attrs = append(d.Attrs, goimap.MailboxAttrHasNoChildren)
	}
	if a, ok := specialUseAttrs[f.Use]; ok {
		d.Attrs = append(d.Attrs, a)
	}
	return d
}

func hasAttr(attrs []goimap.MailboxAttr, a goimap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

func hasSpecialUse(attrs []goimap.MailboxAttr) bool {
	for _, a := range specialUseAttrs {
		if hasAttr(attrs, a) {
			return true
		}
	}
	return false
}
