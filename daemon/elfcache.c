// SPDX-License-Identifier: MIT
/*
 * The per-file ELF cache of the unwinder and the symbolizer (see elfcache.h). A tracee can
 * map any file, so every offset and count read from a file is checked against its size
 * before use: a truncated or crafted ELF gives fewer answers, never a crash.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfcache.h"
#include "log.h"
#include "xalloc.h"

#define HASH_SIZE 256           /* power of two */
#define DEBUG_DIR "/usr/lib/debug/.build-id"

static struct elf_file *table[HASH_SIZE];

static unsigned hash(uint64_t dev, uint64_t ino)
{
	return (unsigned)((ino * 0x9e3779b97f4a7c15ull) ^ dev) & (HASH_SIZE - 1);
}

/* @len bytes at @off lie inside a file of @size bytes (no overflow). */
static bool in_file(size_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

/*
 * Open @path and map it if it is a regular file, and the inode (@dev, @ino) unless @dev is
 * 0. A tracee can put anything at a path it mapped from: a FIFO, whose blocking open would
 * freeze the daemon for every user, a device node, a symlink. So: stat first and open
 * only a regular file; then open non-blocking, without a controlling tty, without
 * following a symlink in the last component (@follow: for /proc/PID/map_files, whose
 * entries are the kernel's links to the mapped file itself); then fstat again.
 */
static const uint8_t *map_file(const char *path, uint64_t dev, uint64_t ino, bool follow,
			       size_t *ret_size)
{
	struct stat st;

	if ((follow ? stat(path, &st) : lstat(path, &st)) < 0 || !S_ISREG(st.st_mode) ||
	    (dev && ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)))
		return NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
				    (follow ? 0 : O_NOFOLLOW));
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr) ||
	    (dev && ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino))) {
		close(fd);
		return NULL;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	*ret_size = (size_t)st.st_size;
	return p;
}

/*
 * The filesystem ids of @pid (the fourth Uid and Gid of /proc/PID/status), which the
 * daemon takes while it opens that process's files: in system mode the daemon is root,
 * and the tracee's ids are its client's (the daemon traces nothing that could raise
 * them: no_new_privs for run, the credential checks for attach). false if unknown.
 */
static bool task_fsids(pid_t pid, uid_t *ret_uid, gid_t *ret_gid)
{
	char path[64], line[256];
	unsigned u = 0, g = 0;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (found < 2 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Uid: %*u %*u %*u %u", &u) == 1)
			found++;
		else if (sscanf(line, "Gid: %*u %*u %*u %u", &g) == 1)
			found++;
	}
	fclose(f);
	*ret_uid = u;
	*ret_gid = g;
	return found == 2;
}

static const Elf64_Ehdr *elf_header(const uint8_t *map, size_t size)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)map;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64)
		return NULL;
	return eh;
}

/* The GNU build-id note in [off, off + len) of the file, as hex into f->build_id. */
static void read_build_id(struct elf_file *f, uint64_t off, uint64_t len)
{
	if (!in_file(f->size, off, len))
		return;
	const uint8_t *p = f->map + off, *end = p + len;
	while ((size_t)(end - p) >= sizeof(Elf64_Nhdr)) {
		const Elf64_Nhdr *n = (const Elf64_Nhdr *)p;
		uint64_t name_sz = (n->n_namesz + 3u) & ~3u, desc_sz = (n->n_descsz + 3u) & ~3u;
		const uint8_t *name = p + sizeof(*n), *desc = name + name_sz;
		if (name_sz + desc_sz > (uint64_t)(end - name))
			return;
		if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(name, "GNU", 4) &&
		    n->n_descsz && n->n_descsz <= 20) {
			for (unsigned i = 0; i < n->n_descsz; i++)
				snprintf(f->build_id + 2 * i, 3, "%02x", desc[i]);
			return;
		}
		p = desc + desc_sz;
	}
}

/* DWARF pointer encodings libunwind's binary search table needs (LSB .eh_frame_hdr). */
#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_datarel 0x30
#define DW_EH_PE_omit 0xff

/*
 * .eh_frame_hdr: version 1, eh_frame_ptr_enc, fde_count_enc, table_enc, eh_frame_ptr,
 * fde_count, then fde_count (initial_location, fde) pairs of signed 4-byte offsets from the
 * header: the table dwarf_search_unwind_table() searches. Other encodings are left alone
 * (the frame then ends the stack): GNU ld and lld always write this one.
 */
static void read_eh_frame_hdr(struct elf_file *f, const Elf64_Phdr *ph)
{
	uint64_t off = ph->p_offset;

	if (!in_file(f->size, off, 12))
		return;
	const uint8_t *h = f->map + off;
	if (h[0] != 1 || h[1] == DW_EH_PE_omit || (h[1] & 0x0f) != DW_EH_PE_sdata4 ||
	    h[2] != DW_EH_PE_udata4 || h[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
		return;
	uint32_t count;
	memcpy(&count, h + 8, 4);
	if (!count || !in_file(f->size, off + 12, (uint64_t)count * 8))
		return;
	f->eh_hdr_vaddr = ph->p_vaddr;
	f->eh_hdr_offset = off;
	f->eh_table_off = 12;
	f->eh_fde_count = count;
}

static void read_phdrs(struct elf_file *f, const Elf64_Ehdr *eh)
{
	if (eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    !in_file(f->size, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
		return;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(f->map + eh->e_phoff);
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		switch (ph[i].p_type) {
		case PT_LOAD:
			if (f->n_segs < ELF_MAX_SEGS)
				f->segs[f->n_segs++] = (struct elf_seg){
					.vaddr = ph[i].p_vaddr, .memsz = ph[i].p_memsz,
					.offset = ph[i].p_offset, .filesz = ph[i].p_filesz,
					.flags = ph[i].p_flags };
			break;
		case PT_GNU_EH_FRAME:
			read_eh_frame_hdr(f, &ph[i]);
			break;
		case PT_GNU_RELRO:
			f->relro_lo = ph[i].p_offset;
			f->relro_hi = ph[i].p_offset + ph[i].p_filesz;
			break;
		case PT_NOTE:
			if (!f->build_id[0])
				read_build_id(f, ph[i].p_offset, ph[i].p_filesz);
			break;
		}
	}
}

static struct elf_file *load(uint64_t dev, uint64_t ino, const char *path, pid_t pid,
			     uint64_t start, uint64_t end)
{
	struct elf_file *f = xcalloc(1, sizeof(*f));
	char buf[4200];

	f->dev = dev;
	f->ino = ino;
	/* As the tracee's user (see task_fsids); per thread, and only this one opens. */
	uid_t fsuid;
	gid_t fsgid;
	bool as_user = geteuid() == 0 && task_fsids(pid, &fsuid, &fsgid) && fsuid != 0;
	int old_gid = as_user ? setfsgid(fsgid) : -1;
	int old_uid = as_user ? setfsuid(fsuid) : -1;
	if (path && path[0] == '/') {
		f->map = map_file(path, dev, ino, false, &f->size);
		if (!f->map) {
			snprintf(buf, sizeof(buf), "/proc/%d/root%s", (int)pid, path);
			f->map = map_file(buf, dev, ino, false, &f->size);
		}
	}
	if (!f->map) {
		/* A deleted or renamed file; needs CAP_CHECKPOINT_RESTORE, so last. */
		snprintf(buf, sizeof(buf), "/proc/%d/map_files/%llx-%llx", (int)pid,
			 (unsigned long long)start, (unsigned long long)end);
		f->map = map_file(buf, dev, ino, true, &f->size);
	}
	if (as_user) {
		setfsuid((uid_t)old_uid);
		setfsgid((gid_t)old_gid);
	}
	const Elf64_Ehdr *eh = f->map ? elf_header(f->map, f->size) : NULL;
	if (eh) {
		read_phdrs(f, eh);
		f->ok = f->n_segs > 0;
	}
	if (!f->ok)
		log_debug("elfcache: no ELF for %s (%llx:%llu)", path ? path : "?",
			  (unsigned long long)dev, (unsigned long long)ino);
	return f;
}

struct elf_file *elfcache_get(uint64_t dev, uint64_t ino, const char *path, pid_t pid,
			      uint64_t start, uint64_t end)
{
	unsigned h = hash(dev, ino);

	for (struct elf_file *f = table[h]; f; f = f->next)
		if (f->dev == dev && f->ino == ino)
			return f->ok ? f : NULL;
	struct elf_file *f = load(dev, ino, path, pid, start, end);
	f->next = table[h];
	table[h] = f;
	return f->ok ? f : NULL;
}

bool elf_offset_to_vaddr(const struct elf_file *f, uint64_t off, uint64_t *ret_vaddr)
{
	for (unsigned i = 0; i < f->n_segs; i++) {
		const struct elf_seg *s = &f->segs[i];
		if (off >= s->offset && off - s->offset < s->filesz) {
			*ret_vaddr = off - s->offset + s->vaddr;
			return true;
		}
	}
	return false;
}

const struct elf_seg *elf_seg_of(const struct elf_file *f, uint64_t vaddr)
{
	for (unsigned i = 0; i < f->n_segs; i++)
		if (vaddr >= f->segs[i].vaddr && vaddr - f->segs[i].vaddr < f->segs[i].memsz)
			return &f->segs[i];
	return NULL;
}

/* ---- symbols ----------------------------------------------------------------------------- */

/* Of two functions at one address, show the global name (mmap64 before __mmap_internal). */
static int bind_rank(unsigned char info)
{
	switch (ELF64_ST_BIND(info)) {
	case STB_GLOBAL:
		return 0;
	case STB_WEAK:
		return 1;
	default:
		return 2;
	}
}

struct sym_tmp {
	struct elf_sym s;
	int rank;
};

static int cmp_sym(const void *a, const void *b)
{
	const struct sym_tmp *x = a, *y = b;

	if (x->s.addr != y->s.addr)
		return x->s.addr < y->s.addr ? -1 : 1;
	return x->rank - y->rank;
}

/*
 * The functions of the symbol table of type @type (SHT_SYMTAB or SHT_DYNSYM) in the ELF
 * mapped at @map. Returns how many were added to f->syms (0 if there is no such table).
 */
static size_t add_symbols(struct elf_file *f, const uint8_t *map, size_t size, uint32_t type)
{
	const Elf64_Ehdr *eh = elf_header(map, size);

	if (!eh || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    !in_file(size, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)))
		return 0;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(map + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != type || sh[i].sh_link >= eh->e_shnum ||
		    sh[i].sh_entsize != sizeof(Elf64_Sym) ||
		    !in_file(size, sh[i].sh_offset, sh[i].sh_size))
			continue;
		const Elf64_Shdr *str = &sh[sh[i].sh_link];
		if (str->sh_type == SHT_NOBITS || !in_file(size, str->sh_offset, str->sh_size) ||
		    !str->sh_size || map[str->sh_offset + str->sh_size - 1] != '\0')
			continue;
		const Elf64_Sym *sym = (const Elf64_Sym *)(map + sh[i].sh_offset);
		size_t n = sh[i].sh_size / sizeof(Elf64_Sym), k = 0;
		struct sym_tmp *tmp = xcalloc(n + 1, sizeof(*tmp));
		for (size_t j = 0; j < n; j++) {
			unsigned t = ELF64_ST_TYPE(sym[j].st_info);
			if ((t != STT_FUNC && t != STT_GNU_IFUNC) || sym[j].st_shndx == SHN_UNDEF ||
			    !sym[j].st_size || sym[j].st_name >= str->sh_size)
				continue;
			const char *name = (const char *)map + str->sh_offset + sym[j].st_name;
			if (!*name)
				continue;
			tmp[k++] = (struct sym_tmp){
				.s = { .addr = sym[j].st_value, .size = sym[j].st_size, .name = name },
				.rank = bind_rank(sym[j].st_info) };
		}
		qsort(tmp, k, sizeof(*tmp), cmp_sym);
		f->syms = xrealloc(f->syms, (k + 1) * sizeof(*f->syms));
		size_t m = 0;
		for (size_t j = 0; j < k; j++)
			if (!m || f->syms[m - 1].addr != tmp[j].s.addr)
				f->syms[m++] = tmp[j].s;
		free(tmp);
		f->n_syms = m;
		return m;
	}
	return 0;
}

/* The separate debug file of a stripped library (Debian's *-dbg packages). */
static void load_debug_symbols(struct elf_file *f)
{
	char path[128];

	if (strlen(f->build_id) < 4)
		return;
	snprintf(path, sizeof(path), DEBUG_DIR "/%.2s/%s.debug", f->build_id, f->build_id + 2);
	f->dbg_map = map_file(path, 0, 0, true, &f->dbg_size);
	if (f->dbg_map && !add_symbols(f, f->dbg_map, f->dbg_size, SHT_SYMTAB)) {
		munmap((void *)f->dbg_map, f->dbg_size);
		f->dbg_map = NULL;
	}
}

static void load_symbols(struct elf_file *f)
{
	f->syms_loaded = true;
	if (add_symbols(f, f->map, f->size, SHT_SYMTAB))
		return;
	load_debug_symbols(f);
	if (!f->n_syms)
		add_symbols(f, f->map, f->size, SHT_DYNSYM);
}

const struct elf_sym *elf_symbol(struct elf_file *f, uint64_t vaddr)
{
	if (!f->syms_loaded)
		load_symbols(f);
	/* The last symbol starting at or below vaddr. */
	size_t lo = 0, hi = f->n_syms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Nested functions are rare; look back a little for one that contains vaddr. */
	for (size_t i = lo, k = 0; i > 0 && k < 8; i--, k++) {
		const struct elf_sym *s = &f->syms[i - 1];
		if (vaddr - s->addr < s->size)
			return s;
	}
	return NULL;
}

void elfcache_clear(void)
{
	for (unsigned h = 0; h < HASH_SIZE; h++) {
		struct elf_file *f = table[h], *next;
		for (; f; f = next) {
			next = f->next;
			if (f->map)
				munmap((void *)f->map, f->size);
			if (f->dbg_map)
				munmap((void *)f->dbg_map, f->dbg_size);
			free(f->syms);
			free(f);
		}
		table[h] = NULL;
	}
}
