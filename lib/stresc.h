/* SPDX-License-Identifier: MIT */
/*
 * String escaping shared by the event printers (lib/sysent.c) and the client's VMA and
 * path printers. json_print_string() is public in sysent.h.
 */
#ifndef VMATRACE_STRESC_H
#define VMATRACE_STRESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* stresc_print_c - @len bytes of @str, C-escaped (octal for control and invalid bytes). */
void stresc_print_c(FILE *out, const char *str, size_t len);

/*
 * stresc_name - a file or VMA name for a /proc/PID/maps-style line, safe on a terminal:
 * control bytes (a newline as \012, as the kernel escapes it in /proc/PID/maps), DEL, the
 * C1 controls and bytes that are not UTF-8 as three-digit octal; everything else, a
 * backslash included, as is (as /proc shows it). Into @buf of @size bytes, NUL-terminated,
 * cut before an escape or character that does not fit; returns the length.
 * stresc_print_name - the same, printed to @out (no length limit).
 */
size_t stresc_name(char *buf, size_t size, const char *name);
void stresc_print_name(FILE *out, const char *name);

/* stresc_print_quoted - NUL-terminated @s, C-escaped, in double quotes. */
void stresc_print_quoted(FILE *out, const char *s);

/* stresc_json_ok - true if @str can appear in a JSON document unchanged (no control bytes,
 * well-formed UTF-8). */
bool stresc_json_ok(const char *str);

/*
 * stresc_print_argv_item - print element @idx of the JSON string array @json as a C string
 * ("a\\n"). -EINVAL if @json is not such an array or has no element @idx (nothing printed).
 */
int stresc_print_argv_item(const char *json, unsigned idx, FILE *out);

/* stresc_print_argv - print the JSON argv array @json as strace does: ["a", "b"]. With
 * @out NULL, only check. Returns 0, -EINVAL (not such an array) or -ENOMEM (then nothing
 * was printed). */
int stresc_print_argv(const char *json, FILE *out);

/* stresc_print_argv_words - the same array as words separated by spaces, each escaped
 * with stresc_print_name (ls -l), as ps shows a command line. Same returns. */
int stresc_print_argv_words(const char *json, FILE *out);

#endif
