#!/usr/bin/env bash
# smtp-vs-postfix.sh: SMTP intake of maildird against a stock Postfix
# delivering to a Maildir, on this machine, in the same run.
#
#   bash bench/smtp-vs-postfix.sh          (as root; needs postfix installed)
#   MAILDIRD=path/to/maildird bash bench/smtp-vs-postfix.sh   (a built binary)
#
# Postfix's own load generator, smtp-source, sends 5 KB messages to each
# server at concurrency 1 and 20. Both fsync what they accept (Postfix its
# queue file and Maildir file, maildird the Maildir file and directory).
# maildird delivers before it answers 250; Postfix answers once the message
# is in its queue and delivers afterwards, so the rate that counts is
# messages landed in the Maildir per second, measured until the last file
# is there. Every message must land exactly once. maildird's peak RSS
# (VmHWM) is printed at the end. Everything listens on 127.0.0.1 only and
# is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="/usr/local/go/bin:$PATH"

SIZE=${SIZE:-5120}
RUNS=${RUNS:-"1:300 20:2000"} # concurrency:messages

for tool in smtp-source postfix postconf; do
	command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install postfix" >&2; exit 1; }
done
[[ $EUID -eq 0 ]] || { echo "run as root (Postfix's daemons need it)" >&2; exit 1; }

work=$(mktemp -d /tmp/smtpbench.XXXXXX)
chmod 0755 "$work"
md_pid="" pf_dir="$work/postfix"
cleanup() {
	[[ -n $md_pid ]] && kill "$md_pid" 2>/dev/null && wait "$md_pid" 2>/dev/null
	[[ -f $pf_dir/etc/main.cf ]] && postfix -c "$pf_dir/etc" stop >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
wait_port() {
	for _ in $(seq 100); do
		timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}
count_files() { { find "$1" -type f 2>/dev/null || true; } | wc -l; }
now() { date +%s.%N; }

# --- maildird ---------------------------------------------------------------
if [[ -n ${MAILDIRD:-} ]]; then cp "$MAILDIRD" "$work/maildird"; else go build -o "$work/maildird" .; fi
md_port=$(free_port)
cat >"$work/maildird.ini" <<INI
[server]
hostname = bench.example.org
domains = example.org
data_dir = $work/md
[listen]
smtp = 127.0.0.1:$md_port
submission =
submissions =
imap =
imaps =
pop3 =
pop3s =
http =
[tls]
mode = off
[limits]
max_connections_per_ip = 100 ; smtp-source connects 20 at once from one address
[log]
level = warn
INI
echo "bench secret" | "$work/maildird" -config "$work/maildird.ini" user add alice@example.org >/dev/null
"$work/maildird" -config "$work/maildird.ini" 2>"$work/maildird.log" &
md_pid=$!
wait_port "$md_port"
md_maildir="$work/md/mail/example.org/alice/new"

# --- Postfix ----------------------------------------------------------------
pf_port=$(free_port)
mkdir -p "$pf_dir/etc" "$pf_dir/vmail" "$pf_dir/spool" "$pf_dir/data"
chown nobody:nogroup "$pf_dir/vmail"
chown postfix "$pf_dir/data"
# The stock master.cf with smtpd moved to our port and no chroot (the
# chroot needs copies of system files in the queue directory).
sed -E -e "s/^smtp      inet/127.0.0.1:$pf_port inet/" \
	-e 's/^([a-z0-9.:]+ +[a-z-]+ +[-ny] +[-ny] +)y /\1n /' /etc/postfix/master.cf >"$pf_dir/etc/master.cf"
echo "alice@example.org alice/" >"$pf_dir/etc/vmailbox"
cat >"$pf_dir/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $pf_dir/spool
data_directory = $pf_dir/data
maillog_file = $pf_dir/maillog
maillog_file_prefixes = $pf_dir
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.example.net
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
virtual_mailbox_domains = example.org
virtual_mailbox_base = $pf_dir/vmail
virtual_mailbox_maps = texthash:$pf_dir/etc/vmailbox
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtputf8_enable = no
CF
postfix -c "$pf_dir/etc" start >"$work/postfix.start" 2>&1 || { cat "$work/postfix.start" "$pf_dir/maillog" >&2; exit 1; }
wait_port "$pf_port"
pf_maildir="$pf_dir/vmail/alice/new"

# run NAME PORT MAILDIR CONCURRENCY COUNT: sends COUNT messages and waits
# until all have landed; prints the accept and landed rates.
declare -A rate
run() {
	local name=$1 port=$2 dir=$3 conc=$4 count=$5 before start accepted landed after
	before=$(count_files "$dir")
	start=$(now)
	smtp-source -s "$conc" -m "$count" -l "$SIZE" -f bob@example.net -t alice@example.org \
		-M bench.example.net "127.0.0.1:$port"
	accepted=$(now)
	for _ in $(seq 6000); do
		after=$(count_files "$dir")
		((after - before >= count)) && break
		sleep 0.05
	done
	landed=$(now)
	after=$(count_files "$dir")
	if ((after - before != count)); then
		echo "FAIL: $name c=$conc: $((after - before)) messages landed, want exactly $count" >&2
		exit 1
	fi
	local acc lan
	acc=$(echo "$count / ($accepted - $start)" | bc -l)
	lan=$(echo "$count / ($landed - $start)" | bc -l)
	rate[$name:$conc]=$lan
	printf '%-9s c=%-3s %6d msgs  accepted %8.1f msgs/s  landed %8.1f msgs/s\n' "$name" "$conc" "$count" "$acc" "$lan"
}

for r in $RUNS; do
	conc=${r%%:*} count=${r##*:}
	run maildird "$md_port" "$md_maildir" "$conc" "$count"
	run postfix "$pf_port" "$pf_maildir" "$conc" "$count"
	printf 'ratio     c=%-3s maildird/postfix (landed) = %.2f\n' "$conc" "$(echo "${rate[maildird:$conc]} / ${rate[postfix:$conc]}" | bc -l)"
done
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$md_pid/status")
printf 'maildird peak RSS (VmHWM): %.1f MB\n' "$(echo "$hwm / 1024" | bc -l)"
