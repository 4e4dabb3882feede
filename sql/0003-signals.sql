-- SPDX-License-Identifier: MIT
--
-- Migration from schema version 2 to 3: fault signals as events (kind 2, "+signal") and
-- renames of mapped files by other processes (kind 3, "+rename"). The event table is
-- unchanged: those rows use its generic columns (below). Version 3 adds the partial index
-- event_signal, names kinds 2 and 3 in events_v, adds the view signals_v and the table
-- divergence (run --verify). A version-2 (or 1) trace stays readable as it is (it has no +signal rows);
-- to give one the new index and views by hand:
--   sqlite3 old.db < sql/0003-signals.sql
-- (A version-1 file takes sql/0002-stacks.sql first.)
BEGIN;
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


DROP VIEW events_v;
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
PRAGMA user_version = 3;
COMMIT;
