/* SPDX-License-Identifier: MIT */
/*
 * String escaping shared by the event printers (lib/sysent.c). json_print_string() is
 * public in sysent.h; these are the printers' own.
 */
#ifndef VMATRACE_STRESC_H
#define VMATRACE_STRESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* stresc_print_c - @len bytes of @str, C-escaped (octal for control and invalid bytes). */
void stresc_print_c(FILE *out, const char *str, size_t len);

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

#endif
