-- SPDX-License-Identifier: MIT
--
-- Migration from schema version 1 to 2: user stacks (vmatrace run --stacks).
-- Version 1 already had event.stack_id (always NULL); version 2 adds the tables it points
-- to and the view stacks_v. A version-1 trace stays readable as it is (it has no stacks);
-- to give one the new tables by hand:
--   sqlite3 old.db < sql/0002-stacks.sql
BEGIN;
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
PRAGMA user_version = 2;
COMMIT;
