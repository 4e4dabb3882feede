/* SPDX-License-Identifier: MIT */
/*
 * The ELF files the tracees map, as the unwinder and the symbolizer need them: one entry per
 * (device, inode), opened once and mapped read-only into the daemon, with its PT_LOAD
 * segments, its .eh_frame_hdr, its RELRO range, its GNU build-id and, on first use, its
 * function symbols (.symtab, else the debug file named by the build-id under
 * /usr/lib/debug/.build-id/, else .dynsym).
 *
 * Why a local mapping: libunwind reads the unwind tables (.eh_frame_hdr, .eh_frame) word by
 * word; reading them from our own mapping of the file costs a memory load instead of a
 * syscall, and the file's bytes are what the tracee sees in every read-only, non-RELRO
 * mapping of it. Keyed by (dev, ino), not by path: a library replaced on disk gets a new
 * inode and a new entry, and no /proc/PID/maps is read to find anything.
 *
 * Ownership: entries belong to the cache and live until elfcache_clear() (called when the
 * daemon has no trace left). Everything here runs on the tracer's thread.
 */
#ifndef VMATRACE_ELFCACHE_H
#define VMATRACE_ELFCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct elf_sym {
	uint64_t addr;          /* st_value: the function's ELF virtual address */
	uint64_t size;          /* st_size, > 0 */
	const char *name;       /* into the mapped string table */
};

struct elf_seg {
	uint64_t vaddr, memsz;  /* p_vaddr, p_memsz */
	uint64_t offset, filesz; /* p_offset, p_filesz */
	uint32_t flags;         /* PF_R/PF_W/PF_X */
};

#define ELF_MAX_SEGS 16

struct elf_file {
	uint64_t dev, ino;
	bool ok;                /* an ELF we could map; false: a cached failure */
	const uint8_t *map;     /* the whole file, PROT_READ */
	size_t size;
	struct elf_seg segs[ELF_MAX_SEGS]; /* PT_LOAD, in file order */
	unsigned n_segs;
	uint64_t eh_hdr_vaddr;  /* PT_GNU_EH_FRAME, 0 if none (or not usable) */
	uint64_t eh_hdr_offset;
	uint64_t eh_table_off;  /* the binary search table, from the start of .eh_frame_hdr */
	uint64_t eh_fde_count;
	uint64_t relro_lo, relro_hi; /* file offsets of PT_GNU_RELRO (changed at run time) */
	char build_id[41];      /* lowercase hex, "" if none */
	bool syms_loaded;
	struct elf_sym *syms;   /* sorted by addr, one per address */
	size_t n_syms;
	const uint8_t *dbg_map; /* the debug file's mapping, if its symbols are used */
	size_t dbg_size;
	struct elf_file *next;  /* hash chain */
};

/*
 * elfcache_get - the entry of file (@dev, @ino), opened on first use through @path (checked
 * with fstat to be that very inode), then /proc/@pid/root/@path, then
 * /proc/@pid/map_files/@start-@end. Returns NULL if the file is not a usable ELF (also
 * remembered: asked again, it answers NULL at once).
 */
struct elf_file *elfcache_get(uint64_t dev, uint64_t ino, const char *path, pid_t pid,
			      uint64_t start, uint64_t end);

/* elf_offset_to_vaddr - the ELF virtual address of file offset @off (in a PT_LOAD). */
bool elf_offset_to_vaddr(const struct elf_file *f, uint64_t off, uint64_t *ret_vaddr);

/* elf_exec_seg - the PT_LOAD containing virtual address @vaddr, NULL if none. */
const struct elf_seg *elf_seg_of(const struct elf_file *f, uint64_t vaddr);

/*
 * elf_symbol - the function containing @vaddr: [addr, addr + size) holds it, else NULL (no
 * nearest-symbol guess: a pc past every known function gets no name). Loads the symbols on
 * first use.
 */
const struct elf_sym *elf_symbol(struct elf_file *f, uint64_t vaddr);

/* elfcache_clear - unmap and forget every entry. */
void elfcache_clear(void);

#endif
