-- SPDX-License-Identifier: MIT
--
-- vmatrace trace database, schema version 3 (2: user stacks, see sql/0002-stacks.sql;
-- 3: +signal events, see sql/0003-signals.sql).
--
-- This file is a public interface: users open a trace with `sqlite3 vmatrace.db` and query
-- these tables and views directly. lib/store.c runs it (embedded at build time as the C
-- string `schema_sql`) when it creates a new trace, then marks the file as ours:
--
--   PRAGMA application_id = 1447903572;  -- 0x564d4154, "VMAT" (STORE_APPLICATION_ID)
--   PRAGMA user_version = 3;              -- this schema's version (STORE_SCHEMA_VERSION)
--
-- Any change to this file bumps user_version and comes with a migration (sql/NNNN-*.sql);
-- readers refuse a version newer than they know.
--
-- Conventions.
-- * seq is the event counter of the trace (event.seq, from 1). Every other table dates
--   its rows with seqs: "born at seq N" means "present in the state after event N".
--   seq 0 means "before the first event" (the initial process, VMAs found at attach).
-- * Intervals of life are half open: a thing born at B that ended at E existed after
--   events B .. E-1. An end column is NULL while the thing is alive (or was alive when the
--   trace ended).
-- * 64-bit unsigned values (addresses, raw syscall arguments, dev_t) are stored as SQLite's
--   signed 64-bit INTEGER, two's complement. Values >= 2^63 (the [vsyscall] page, -1 passed
--   as an fd) read back negative; printf('%x', col) prints them as unsigned hex.
-- * pid, tid: the kernel's numbers, which the kernel may reuse within one trace. Rows that
--   describe a process or thread have a surrogate id; "process 1234" means the most recent
--   process row with pid 1234 whose life covers the seq you ask about.
-- * dev is the kernel's dev_t as glibc's makedev() encodes it (major 8, minor 1 = 0x801).
--
-- Indexes are few on purpose: an index on a key that arrives in random order makes inserts
-- about 10x slower (DESIGN.md), and the writer must keep up with the tracer. Each index
-- below says which query needs it.

-- The trace: exactly one row (id 1), created with the file.
CREATE TABLE trace (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	cmdline TEXT,               -- the traced command line, JSON array: ["ls","-l"]
	cwd TEXT,                   -- working directory of the run
	host TEXT,                  -- uname -n of the tracing machine
	kernel TEXT,                -- uname -r: "6.18.0-1-amd64"
	version TEXT,               -- vmatrace version that wrote the trace: "0.1.0"
	mode TEXT,                  -- "run" or "attach"
	start_realtime_ns INTEGER,  -- CLOCK_REALTIME at start (ns since the epoch)
	start_mono_ns INTEGER,      -- CLOCK_MONOTONIC at start; event.time_ns has this base
	page_size INTEGER,          -- the target's page size: 4096
	end_mono_ns INTEGER,        -- CLOCK_MONOTONIC when the trace was closed
	end_status TEXT             -- "done", "detached", "error: database or disk is full";
	                            -- NULL while the trace is being written (or if the writer
	                            -- died without closing it)
);

-- Syscall names (x86_64), for the views. Filled by the daemon at start.
CREATE TABLE syscall (
	nr INTEGER PRIMARY KEY,     -- syscall number: 9
	name TEXT NOT NULL          -- its name: "mmap"
);

-- Files that events and VMAs name: mapped files (with their identity) and execve filenames
-- (dev = ino = 0). One row per distinct (dev, ino, path).
CREATE TABLE file (
	id INTEGER PRIMARY KEY,
	dev INTEGER NOT NULL,       -- device of the file, 0 if unknown (execve filename)
	ino INTEGER NOT NULL,       -- inode, 0 if unknown
	path TEXT NOT NULL,         -- path as /proc/PID/maps shows it, '' if unknown
	build_id TEXT,              -- GNU build-id, lowercase hex, NULL if none or not read
	UNIQUE (dev, ino, path)     -- the writer's lookup of an event's file
);

-- Processes (thread groups). A new row for each new tgid; pids may repeat in one trace.
CREATE TABLE process (
	id INTEGER PRIMARY KEY,     -- surrogate id, in order of appearance
	pid INTEGER NOT NULL,       -- thread group id
	ppid INTEGER NOT NULL,      -- the traced parent's pid, 0 for a root of the trace
	start_seq INTEGER NOT NULL, -- clone/fork/vfork event that created it, 0 for a root
	end_seq INTEGER,            -- event that ended it (last thread's exit), NULL if alive
	exit_status INTEGER,        -- wait(2) status: exit code << 8, or the killing signal
	exe TEXT,                   -- program of the last execve (or at start), NULL if unknown
	argv TEXT,                  -- argv of the last execve, JSON array, NULL if none seen
	mm INTEGER NOT NULL         -- mm.id at birth; see exec for later ones
);
-- "process 1234": most recent row with that pid (store_query_mm_of, has_pid, end updates).
CREATE INDEX process_pid ON process (pid);

-- Every successful execve: the process gets a new program and a new mm.
CREATE TABLE exec (
	id INTEGER PRIMARY KEY,
	process INTEGER REFERENCES process (id), -- NULL if the process was not known
	pid INTEGER NOT NULL,       -- its pid (after the exec: a non-leader that execs takes it)
	seq INTEGER NOT NULL,       -- the execve event
	exe TEXT,                   -- the new program: "/usr/bin/python3"
	argv TEXT,                  -- its argv, JSON array: ["python3","-c","print(42)"]
	mm INTEGER NOT NULL         -- the new mm.id
);
-- The mm of a process at a seq: its last exec at or before the seq.
CREATE INDEX exec_process ON exec (process, seq);

-- Threads. A new row for each new tid; tids may repeat in one trace.
CREATE TABLE thread (
	id INTEGER PRIMARY KEY,     -- surrogate id, in order of appearance
	tid INTEGER NOT NULL,       -- thread id (the leader's tid is the pid)
	pid INTEGER NOT NULL,       -- its thread group
	start_seq INTEGER NOT NULL, -- clone event that created it, 0 if there at start
	end_seq INTEGER,            -- its exit event, NULL if alive at the end of the trace
	exit_status INTEGER         -- wait(2) status, NULL if alive at the end of the trace
);
-- End of a thread: most recent row with a tid.
CREATE INDEX thread_tid ON thread (tid);

-- Address spaces (the kernel's mm_struct). Threads and CLONE_VM children share one; fork
-- copies one (parent), exec makes a fresh one.
CREATE TABLE mm (
	id INTEGER PRIMARY KEY,     -- the model's mm id: event.mm, vma.mm
	start_seq INTEGER NOT NULL, -- event that created it (fork, exec), 0 for an initial one
	end_seq INTEGER,            -- event that dropped its last user, NULL if alive
	parent INTEGER,             -- mm it was copied from by fork, 0 if none
	owner INTEGER NOT NULL      -- pid of the process that created it
);

-- mm_users over time: the number of tasks using an mm changed to users at event seq.
CREATE TABLE mm_users (
	mm INTEGER NOT NULL,
	seq INTEGER NOT NULL,
	users INTEGER NOT NULL
);
CREATE INDEX mm_users_mm ON mm_users (mm, seq);

-- Events: one recorded syscall, or the end of a thread (kind 1). The source of truth.
CREATE TABLE event (
	seq INTEGER PRIMARY KEY,    -- recording order, from 1
	time_ns INTEGER NOT NULL,   -- CLOCK_MONOTONIC at the entry stop (trace.start_mono_ns base)
	pid INTEGER NOT NULL,       -- thread group id (for execve: the pid after it)
	tid INTEGER NOT NULL,       -- thread id
	mm INTEGER NOT NULL,        -- mm.id of the thread at entry, 0 if unknown
	kind INTEGER NOT NULL,      -- 0 syscall, 1 thread exit, 2 fault signal (+signal)
	nr INTEGER NOT NULL,        -- x86_64 syscall number (syscall.nr); -1 for kinds 1, 2
	a0 INTEGER NOT NULL, a1 INTEGER NOT NULL, a2 INTEGER NOT NULL, -- raw arguments
	a3 INTEGER NOT NULL, a4 INTEGER NOT NULL, a5 INTEGER NOT NULL, -- (kind 2: below)
	ret INTEGER NOT NULL,       -- raw result, -errno (-4095..-1) on failure; for a thread
	                            -- exit its wait(2) status; for kind 2 the outcome
	dur_ns INTEGER NOT NULL,    -- entry stop to exit stop, 0 if none
	file INTEGER,               -- file.id: the file an mmap/shmat mapped, execve's
	                            -- filename; NULL if none
	argv TEXT,                  -- execve argv, JSON array; NULL otherwise
	stack_id INTEGER            -- stack.id: the thread's user stack at the syscall's entry
	                            -- (run --stacks), NULL if not recorded
);
-- events --pid / --tid. Each orders its rows by seq (the rowid), so a filtered walk needs
-- no sort. Their keys come in runs (few tasks), not at random, yet each costs: 500k events
-- of 4 interleaved processes insert at ~500k rows/s with event_pid, ~370k with both (and
-- ~280k with a third on mm, which is why --mm scans instead: ~0.1 s per 1M events).
CREATE INDEX event_pid ON event (pid);
CREATE INDEX event_tid ON event (tid);
-- Kind 2 (schema version 3): the signal-delivery stop of SIGSEGV, SIGBUS, SIGILL, SIGFPE,
-- SIGTRAP or SIGSYS, recorded whether a handler takes it or it kills the process:
--   a0 signal number, a1 si_code (SEGV_MAPERR 1, SEGV_ACCERR 2, BUS_ADRERR 2, BUS_OBJERR 3,
--   SI_USER 0, SI_TKILL -6...), a2 si_addr, a3 the pc, a4 the stack pointer, a5 the pc's
--   offset in the file its VMA maps (file: that module); ret 0 outcome unknown (the trace
--   ended first), 1 handled (the thread went on), 2 fatal (it died of the signal);
--   stack_id: the stack at the fault (run --stacks). See the view signals_v.
-- Only fault signals have rows of kind 2, so this partial index costs nothing while a
-- program does not fault, and finds a trace's faults without a scan (vmatrace why).
CREATE INDEX event_signal ON event (seq) WHERE kind = 2;

-- VMA versions: one row per state of one VMA, born at an event and ended by another
-- (split, merge, mprotect, munmap, mremap, exec, exit). A VMA that changes gets a new row.
-- The map of mm M after event N is
--     SELECT * FROM vma WHERE mm = M AND born_seq <= N AND (died_seq IS NULL OR died_seq > N)
-- which is right but scans. To answer it from an index, every ended version has a
-- life_class = floor(log2(died_seq - born_seq)) (0 for lives of 0 or 1 events, at most 47):
-- a version alive at N with life class c was born in (N - 2^(c+1), N], so one range of
-- index vma_life per class finds it, plus one range of still-alive versions (life_class
-- -1). See sql/queries.sql (and store_query_vmas_at) for the query; it reads
-- O(48 + versions alive at N or at N - 2^c) index entries, whatever the trace's length.
-- The address lookup ("versions covering address A", history) works the same way with
-- size_class = floor(log2(end - start)) and index vma_addr.
CREATE TABLE vma (
	id INTEGER PRIMARY KEY,     -- version id, assigned by the writer in creation order
	mm INTEGER NOT NULL,        -- mm.id
	start INTEGER NOT NULL,     -- first address: 0x7f3b2c000000
	end INTEGER NOT NULL,       -- one past the last address
	perms TEXT NOT NULL,        -- as in /proc/PID/maps: "rw-p", "r-xs"
	offset INTEGER NOT NULL,    -- file offset in bytes (pgoff << PAGE_SHIFT)
	dev INTEGER NOT NULL,       -- device of the mapped file, 0 for anonymous memory
	ino INTEGER NOT NULL,       -- inode of the mapped file, 0 for anonymous memory
	name TEXT NOT NULL,         -- last column of /proc/PID/maps: "/usr/lib/libc.so.6",
	                            -- "[heap]", "[stack]", "[anon:name]", '' for none
	born_seq INTEGER NOT NULL,  -- event that created this version (0: before the trace)
	died_seq INTEGER,           -- event that ended it, NULL while alive
	origin_unknown INTEGER NOT NULL, -- 1 if found at attach/exec in /proc/PID/maps rather
	                            -- than created by a recorded event
	life_class INTEGER NOT NULL, -- -1 while alive, else floor(log2(died_seq - born_seq))
	size_class INTEGER NOT NULL  -- floor(log2(end - start))
);
-- "VMAs of mm M alive after event N" (maps --at, diff); see above.
CREATE INDEX vma_life ON vma (mm, life_class, born_seq, died_seq);
-- "versions covering address A" (history); see above.
CREATE INDEX vma_addr ON vma (size_class, start);

-- User stacks (run --stacks, schema version 2). Deduplicated twice: a frame is one
-- (file, rel_pc) whatever the process and its load address, a stack one sequence of frames;
-- event.stack_id points at it. The daemon assigns both ids (no lookup while writing).
-- Names are resolved when the frame is first seen, from the ELF symbol table of the file
-- (.symtab, its debug file by build-id under /usr/lib/debug, or .dynsym), so a DB copied to
-- another machine still shows them; file.build_id says which build they came from.
CREATE TABLE frame (
	id INTEGER PRIMARY KEY,     -- frame id (stack_frame.frame)
	file INTEGER NOT NULL,      -- file.id of the module: a mapped file, or a pseudo file
	                            -- (dev = ino = 0) named "[vdso]", "[anon]"...
	rel_pc INTEGER NOT NULL,    -- the pc as an ELF virtual address of the module (what
	                            -- addr2line -e MODULE takes); offset in the VMA if not an ELF
	function TEXT,              -- the function containing it ([st_value, +st_size)), NULL
	                            -- if no symbol covers it (no nearest-symbol guess)
	func_off INTEGER            -- rel_pc - the function's address, NULL without a function
);

-- A distinct stack: depth frames, innermost (the syscall's caller) at depth 0.
CREATE TABLE stack (
	id INTEGER PRIMARY KEY,     -- event.stack_id
	depth INTEGER NOT NULL      -- number of frames
);

-- The frames of each stack, in order.
CREATE TABLE stack_frame (
	stack INTEGER NOT NULL,     -- stack.id
	depth INTEGER NOT NULL,     -- 0 = innermost: the pc at the syscall instruction
	frame INTEGER NOT NULL,     -- frame.id
	PRIMARY KEY (stack, depth)
) WITHOUT ROWID;

-- Views for the sqlite3 shell. ------------------------------------------------------------

-- Events with names and hex: one row per event, like `vmatrace events` without decoding.
-- t_ns is the time since the start of the trace.
--   seq|t_ns|pid|tid|mm|syscall|a0|a1|a2|a3|a4|a5|ret|errno|dur_ns|path|argv
--   12|5012344|1234|1234|1|mmap|0x0|0x2000|0x3|0x22|0xffffffffffffffff|0x0|0x7f3b2c000000||812||
-- ret is hex for a success and -errno (decimal) for a failure, whose errno column holds the
-- positive error number; for a thread exit, ret is the wait(2) status; for a +signal, its
-- outcome (see signals_v).
CREATE VIEW events_v AS
SELECT e.seq, e.time_ns - (SELECT coalesce(start_mono_ns, 0) FROM trace) AS t_ns, e.pid, e.tid,
	e.mm,
	CASE e.kind WHEN 1 THEN '+++ exit' WHEN 2 THEN '+signal' WHEN 3 THEN '+rename'
		ELSE coalesce(s.name, 'syscall_' || e.nr) END AS syscall,
	printf('0x%x', e.a0) AS a0, printf('0x%x', e.a1) AS a1, printf('0x%x', e.a2) AS a2,
	printf('0x%x', e.a3) AS a3, printf('0x%x', e.a4) AS a4, printf('0x%x', e.a5) AS a5,
	CASE WHEN e.kind = 0 AND e.ret BETWEEN -4095 AND -1 THEN e.ret
	     WHEN e.kind = 0 THEN printf('0x%x', e.ret) ELSE e.ret END AS ret,
	CASE WHEN e.kind = 0 AND e.ret BETWEEN -4095 AND -1 THEN -e.ret END AS errno,
	e.dur_ns, f.path, e.argv
FROM event e LEFT JOIN syscall s ON s.nr = e.nr LEFT JOIN file f ON f.id = e.file;

-- run --verify (schema version 3): each check after which the replayed map differed from
-- the kernel's, with the first differing VMA. Empty when the trace had no --verify, or
-- when the model kept up. `vmatrace run --verify-all` prints them all.
--   seq|mm|report
--   1483|1|first divergence at 0x7fbe693b2000:\n  kernel: 7fbe...  model: 7fbe...
CREATE TABLE divergence (
	seq INTEGER NOT NULL,       -- the event after which the check was made
	mm INTEGER NOT NULL,        -- mm.id
	report TEXT NOT NULL        -- "first divergence at 0x...:" and the kernel and model lines
);

-- Fault signals (event kind 2), decoded:
--   seq|pid|tid|signal|code|addr|pc|sp|module|module_offset|outcome
--   42|1234|1234|SIGSEGV|SEGV_MAPERR|0x7f3b2c000010|0x55d0c4a1e1e9|0x7ffd1c2e4f60|/tmp/a.out|0x11e9|fatal
CREATE VIEW signals_v AS
SELECT e.seq, e.pid, e.tid,
	CASE e.a0 WHEN 4 THEN 'SIGILL' WHEN 5 THEN 'SIGTRAP' WHEN 7 THEN 'SIGBUS'
	     WHEN 8 THEN 'SIGFPE' WHEN 11 THEN 'SIGSEGV' WHEN 31 THEN 'SIGSYS'
	     ELSE 'signal ' || e.a0 END AS signal,
	CASE WHEN e.a1 = 0 THEN 'SI_USER' WHEN e.a1 = -6 THEN 'SI_TKILL'
	     WHEN e.a1 = -1 THEN 'SI_QUEUE' WHEN e.a1 = 128 THEN 'SI_KERNEL'
	     WHEN e.a0 = 11 THEN CASE e.a1 WHEN 1 THEN 'SEGV_MAPERR' WHEN 2 THEN 'SEGV_ACCERR'
		WHEN 3 THEN 'SEGV_BNDERR' WHEN 4 THEN 'SEGV_PKUERR' ELSE e.a1 END
	     WHEN e.a0 = 7 THEN CASE e.a1 WHEN 1 THEN 'BUS_ADRALN' WHEN 2 THEN 'BUS_ADRERR'
		WHEN 3 THEN 'BUS_OBJERR' WHEN 4 THEN 'BUS_MCEERR_AR' WHEN 5 THEN 'BUS_MCEERR_AO'
		ELSE e.a1 END
	     ELSE e.a1 END AS code,
	printf('0x%x', e.a2) AS addr, printf('0x%x', e.a3) AS pc, printf('0x%x', e.a4) AS sp,
	f.path AS module, printf('0x%x', e.a5) AS module_offset,
	CASE e.ret WHEN 1 THEN 'handled' WHEN 2 THEN 'fatal' ELSE 'unknown' END AS outcome
FROM event e LEFT JOIN file f ON f.id = e.file WHERE e.kind = 2;

-- VMA versions in /proc/PID/maps columns, plus their life (start and end repeat the raw,
-- signed integers, to sort and compare on):
--   id|mm|range|perms|offset|dev|ino|name|born_seq|died_seq|start|end|origin_unknown
--   7|1|7f3b2c000000-7f3b2c002000|rw-p|00000000|00:00|0||12|15|139891...|139891...|0
-- The map of mm 1 after event 40:
--   SELECT range, perms, offset, dev, ino, name FROM vmas_v
--   WHERE mm = 1 AND born_seq <= 40 AND (died_seq IS NULL OR died_seq > 40) ORDER BY start;
CREATE VIEW vmas_v AS
SELECT id, mm, printf('%08x-%08x', start, end) AS range, perms, printf('%08x', offset) AS offset,
	printf('%02x:%02x', ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff),
	       (dev & 0xff) | ((dev >> 12) & ~0xff)) AS dev,
	ino, name, born_seq, died_seq, start, end, origin_unknown
FROM vma;

-- Processes with their mm at birth and last program:
--   id|pid|ppid|start_seq|end_seq|exit|exe|argv|mm
--   1|1234|0|0|812|exited 0|/usr/bin/ls|["ls","-l"]|1
CREATE VIEW processes_v AS
SELECT id, pid, ppid, start_seq, end_seq,
	CASE WHEN exit_status IS NULL THEN NULL
	     WHEN exit_status & 0x7f = 0 THEN 'exited ' || ((exit_status >> 8) & 0xff)
	     ELSE 'killed by ' || (exit_status & 0x7f) END AS exit,
	exe, argv, mm
FROM process;

-- Stacks frame by frame, like `strace -k` prints them:
--   stack|depth|module|build_id|function|offset|pc
--   3|0|/usr/lib/x86_64-linux-gnu/libc.so.6|8f3c...|mmap64|38|0xfb0e6
-- The stack of event 12:
--   SELECT depth, module, function, offset, pc FROM stacks_v
--   WHERE stack = (SELECT stack_id FROM event WHERE seq = 12) ORDER BY depth;
CREATE VIEW stacks_v AS
SELECT sf.stack, sf.depth, f.path AS module, f.build_id, fr.function, fr.func_off AS offset,
	printf('0x%x', fr.rel_pc) AS pc
FROM stack_frame sf JOIN frame fr ON fr.id = sf.frame JOIN file f ON f.id = fr.file;
