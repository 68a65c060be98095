# shellcheck shell=bash
# Sourced by run.sh after apply.sh ($T, $K, $PB, a_check, a_json): the
# state database under damage, read-only and on a full disk.
#   - every mutating run leaves a backup (state.db.bak), integrity ok;
#   - two pages overwritten with random bytes: status and plan refuse,
#     naming the file and the backup, and change nothing; the backup
#     restored as the message says, both work again;
#   - state.db 0444 in a directory the user cannot write: status works;
#   - the state on a full file system (a 2 MB tmpfs, as root): a clear
#     error, the database intact, and the run converges once there is room.
# integrity_check of a file, read as it is (immutable: no -shm is made,
# so this works on a full disk too; korch leaves no -wal behind).
D_PY() { python3 -c "import sqlite3,sys; c=sqlite3.connect('file:'+sys.argv[1]+'?immutable=1', uri=True); print(c.execute('PRAGMA integrity_check').fetchone()[0])" "$1" 2>&1; }
SDB=$T/sdb
mkdir -p "$SDB"
chmod 755 "$SDB"
export KORCH_STATE=$SDB/state.db
"$K" apply "$T/inv.yaml" --playbooks "$PB" >/dev/null 2>"$T/apply.err"
echo tampered > "$T/target/etc/app/app.conf"
"$K" apply "$T/inv.yaml" --playbooks "$PB" >/dev/null 2>"$T/apply.err"
a_check "state: a mutating run leaves state.db.bak and .bak.1, both sound" \
    bash -c "[ \"\$(python3 -c 'import sys' && echo y)\" = y ] && [ -f '$SDB/state.db.bak' ] && [ -f '$SDB/state.db.bak.1' ] && [ ! -e '$SDB/state.db.bak.tmp' ]"
a_check "state: the backup passes integrity_check" [ "$(D_PY "$SDB/state.db.bak")" = ok ]
a_check "state: the backup is 0600" [ "$(stat -c %a "$SDB/state.db.bak")" = 600 ]

# ---- damage -------------------------------------------------------------------
[ ! -e "$SDB/state.db-wal" ] || echo "# note: a -wal was left"
dd if=/dev/urandom of="$SDB/state.db" bs=4096 seek=2 count=2 conv=notrunc 2>/dev/null
before=$(sha256sum < "$SDB/state.db")
"$K" status >"$T/st.out" 2>"$T/apply.err"
rc=$?
echo "# damaged status: $(head -1 "$T/apply.err")"
a_check "damaged: status refuses" [ "$rc" -ne 0 ]
a_check "damaged: status names the file and the backup to restore" \
    bash -c "grep -q '$SDB/state.db is damaged' '$T/apply.err' && grep -q 'cp $SDB/state.db.bak $SDB/state.db' '$T/apply.err'"
"$K" plan "$T/inv.yaml" --playbooks "$PB" >"$T/st.out" 2>"$T/apply.err"
rc=$?
a_check "damaged: plan refuses" [ "$rc" -ne 0 ]
a_check "damaged: plan names the file and the backup to restore" \
    bash -c "grep -q '$SDB/state.db is damaged' '$T/apply.err' && grep -q '$SDB/state.db.bak' '$T/apply.err'"
"$K" apply "$T/inv.yaml" --playbooks "$PB" >"$T/st.out" 2>"$T/apply.err"
a_check "damaged: apply refuses too, and the backup is kept" \
    bash -c "[ $? -ne 0 ] && [ \"\$(python3 -c \"import sqlite3; print(sqlite3.connect('$SDB/state.db.bak').execute('PRAGMA integrity_check').fetchone()[0])\")\" = ok ]"
a_check "damaged: the refusals changed nothing in the file" \
    [ "$(sha256sum < "$SDB/state.db")" = "$before" ]
# restore as the message says
cp "$SDB/state.db.bak" "$SDB/state.db" && rm -f "$SDB/state.db-wal" "$SDB/state.db-shm"
"$K" status --json >"$T/st.json" 2>"$T/apply.err"
a_check "restored: status works and knows the host" \
    [ "$(a_json "$T/st.json" "d['hosts'][0]['name']")" = local ]
"$K" plan "$T/inv.yaml" --playbooks "$PB" >"$T/st.out" 2>"$T/apply.err"
a_check "restored: plan works" [ $? -eq 0 ]

# ---- read-only ------------------------------------------------------------------
chmod 0444 "$SDB/state.db"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	# nobody: may read the file, may write neither it nor its directory
	setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/nonexistent \
	    KORCH_STATE="$SDB/state.db" "$K" status --json >"$T/ro.json" 2>"$T/apply.err"
	rc=$?
	sed 's/^/# ro: /' "$T/apply.err" | head -3
	a_check "read-only: status as a user who cannot write the file or its directory" \
	    [ "$rc" -eq 0 ] && [ "$(a_json "$T/ro.json" "d['hosts'][0]['name']")" = local ]
else
	"$K" status --json >"$T/ro.json" 2>"$T/apply.err"
	a_check "read-only: status on a 0444 state" [ $? -eq 0 ]
fi
chmod 0600 "$SDB/state.db"

# ---- a full file system ---------------------------------------------------------
if [ "$(id -u)" = 0 ] && mkdir -p "$T/full" && mount -t tmpfs -o size=2m tmpfs "$T/full" 2>/dev/null; then
	export KORCH_STATE=$T/full/state.db
	"$K" apply "$T/inv.yaml" --playbooks "$PB" >/dev/null 2>"$T/apply.err"
	a_check "full: the first apply on the tmpfs converges" [ $? -eq 0 ]
	dd if=/dev/zero of="$T/full/fill" bs=4096 2>/dev/null
	echo tampered > "$T/target/etc/app/app.conf"
	"$K" apply "$T/inv.yaml" --playbooks "$PB" >"$T/full.out" 2>"$T/apply.err"
	rc=$?
	echo "# full: $(grep -m1 korch: "$T/apply.err")"
	a_check "full: apply fails" [ "$rc" -ne 0 ]
	a_check "full: the error says what is full and that nothing was changed" \
	    bash -c "grep -qiE 'full|No space' '$T/apply.err' && grep -q 'nothing was changed' '$T/apply.err'"
	a_check "full: the database is intact (integrity_check ok, no -wal left)" \
	    bash -c "[ \"\$1\" = ok ] && [ ! -s '$T/full/state.db-wal' ]" _ "$(D_PY "$T/full/state.db")"
	a_check "full: the host was not touched" grep -qx tampered "$T/target/etc/app/app.conf"
	rm -f "$T/full/fill"
	"$K" apply "$T/inv.yaml" --playbooks "$PB" --json >"$T/full.json" 2>"$T/apply.err"
	a_check "full: with room again the run converges" \
	    [ $? -eq 0 ] && grep -q "color = blue" "$T/target/etc/app/app.conf"
	a_check "full: and the database is still sound" [ "$(D_PY "$T/full/state.db")" = ok ]
	umount "$T/full"
else
	echo "# full: skipped (needs root to mount a tmpfs)"
fi
export KORCH_STATE=$T/state.db
