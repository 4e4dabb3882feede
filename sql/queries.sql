-- SPDX-License-Identifier: MIT
--
-- The named queries of the client, for use from the sqlite3 shell. lib/store.c holds the
-- same text (store_query_*); keep the two in step. Parameters are written :name, as the
-- sqlite3 shell's .param command sets them:
--
--   sqlite3 vmatrace.db
--   sqlite> .param set :mm 1
--   sqlite> .param set :seq 40
--   sqlite> -- paste a query
--
-- The schema, its conventions (seq, half-open lives, signed 64-bit addresses) and the
-- reasoning behind life_class/size_class are in schema.sql.

-- vmas_at (store_query_vmas_at): the map of mm :mm after event :seq, in address order, as
-- `vmatrace maps --at` prints it. One range of index vma_life per life class c, for the
-- versions born in (:seq - 2^(c+1), :seq] that are still alive after :seq, plus the
-- versions alive at the end of the trace (life_class -1). Addresses >= 2^63 ([vsyscall])
-- are negative integers: sort them last. About 2 ms for 1,500 VMAs on a trace with
-- 1,000,000 versions in that mm, where the plain
--     WHERE mm = :mm AND born_seq <= :seq AND (died_seq IS NULL OR died_seq > :seq)
-- gives the same rows in 60-70 ms, growing with the trace.
WITH RECURSIVE class(c) AS (SELECT 0 UNION ALL SELECT c + 1 FROM class WHERE c < 47)
SELECT * FROM (
	SELECT v.* FROM class, vma v
	WHERE v.mm = :mm AND v.life_class = class.c
	AND v.born_seq > :seq - (2 << class.c) AND v.born_seq <= :seq AND v.died_seq > :seq
	UNION ALL
	SELECT v.* FROM vma v WHERE v.mm = :mm AND v.life_class = -1 AND v.born_seq <= :seq
) AS v ORDER BY v.start < 0, v.start;

-- vma_history (store_query_vma_history): every version that covered address :addr, in
-- order of birth, with the events that made and ended it. Same trick on sizes: one range
-- of index vma_addr per size class. Add "AND v.mm = :mm" for one address space.
WITH RECURSIVE class(c) AS (SELECT 0 UNION ALL SELECT c + 1 FROM class WHERE c < 61)
SELECT v.*, b.nr AS born_by, d.nr AS died_by
FROM class, vma v
	LEFT JOIN event b ON b.seq = v.born_seq
	LEFT JOIN event d ON d.seq = v.died_seq
WHERE v.size_class = class.c AND v.start > :addr - (2 << class.c) AND v.start <= :addr
	AND v.end > :addr
ORDER BY v.born_seq, v.id;

-- mm_of (store_query_mm_of): the mm process :pid used after event :seq. pids are reused:
-- take the most recent process with that pid whose life covers :seq, then its last execve
-- at or before :seq. No row: no such process at that point.
SELECT coalesce((SELECT x.mm FROM exec x WHERE x.process = p.id AND x.seq <= :seq
		 ORDER BY x.seq DESC LIMIT 1), p.mm) AS mm
FROM process p
WHERE p.pid = :pid AND p.start_seq <= :seq AND (p.end_seq IS NULL OR p.end_seq >= :seq)
ORDER BY p.id DESC LIMIT 1;

-- events (store_query_events): events of process :pid, in order, with names. Use
-- "e.tid = :tid" for one thread (index event_tid); "e.mm = :mm" has no index and scans
-- (about 0.1 s per 1,000,000 events).
SELECT * FROM events_v WHERE pid = :pid ORDER BY seq;

-- signals (store_query_events with signals_only: `vmatrace why`, history, the timeline's
-- markers): the fault signals of the trace, in order, from the partial index event_signal
-- (the "kind = 2" term is what lets SQLite use it).
SELECT * FROM signals_v ORDER BY seq;
SELECT seq FROM event WHERE kind = 2 AND ret = 2 ORDER BY seq DESC LIMIT 1; -- last fatal

-- mm_users over time for mm :mm (`vmatrace ps`).
SELECT seq, users FROM mm_users WHERE mm = :mm ORDER BY seq;

-- summary (store_query_summary).
SELECT (SELECT count(*) FROM event) AS events, (SELECT count(*) FROM process) AS processes,
	(SELECT count(*) FROM thread) AS threads, (SELECT count(*) FROM mm) AS mms;
