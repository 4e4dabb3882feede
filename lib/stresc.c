// SPDX-License-Identifier: MIT
/*
 * String escaping for the event printers: C-style for the strace-like text, JSON for JSON
 * Lines (invalid UTF-8 bytes as \\u00XX), and reading back the JSON argv arrays the
 * daemon stores, to print them strace-style.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stresc.h"
#include "sysent.h"

/* ---- string escaping ------------------------------------------------------------------- */

/*
 * utf8_seq_len - the length (2..4) of the well-formed UTF-8 sequence at @s, of at most @n
 * bytes, or 0 if @s does not start one: no overlong forms, no surrogates, nothing above
 * U+10FFFF (RFC 3629).
 */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	/* The second byte's range is what rules out overlongs, surrogates and > U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* The short escapes of C and of JSON, by byte. */
/* clang-format off */
static const char *const c_escapes[0x80] = {
	['\\'] = "\\\\", ['"'] = "\\\"", ['\n'] = "\\n", ['\t'] = "\\t",
	['\r'] = "\\r",  ['\v'] = "\\v", ['\f'] = "\\f",
};
static const char *const json_escapes[0x80] = {
	['\\'] = "\\\\", ['"'] = "\\\"", ['\n'] = "\\n", ['\t'] = "\\t",
	['\r'] = "\\r",  ['\b'] = "\\b", ['\f'] = "\\f",
};
/* clang-format on */

/*
 * stresc_print_c - print @len bytes of @s for a terminal, as C would read them: \\, \",
 * \n, \t, \r, \v, \f, other control bytes and invalid UTF-8 as three-digit octal (three
 * digits so that a following digit cannot be read as part of the escape). Well-formed
 * UTF-8 prints as is, except the C1 controls U+0080..U+009F, which terminals obey.
 */
void stresc_print_c(FILE *out, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		size_t n;

		if (c < 0x80 && c_escapes[c]) {
			fputs(c_escapes[c], out);
			continue;
		}
		if (c >= 0x20 && c < 0x7f) {
			fputc(c, out);
			continue;
		}
		n = c >= 0x80 ? utf8_seq_len(s + i, len - i) : 0;
		if (n && !(c == 0xc2 && s[i + 1] < 0xa0)) {
			fwrite(s + i, 1, n, out);
			i += n - 1;
			continue;
		}
		fprintf(out, "\\%03o", c);
	}
}

/*
 * name_byte_len - how many bytes at @s (of @len) print as they are in a name, 0 if the
 * byte at @s must be escaped: a control byte, DEL, a C1 control (U+0080..U+009F, which
 * terminals obey as ESC sequences) or a byte that is not part of well-formed UTF-8.
 */
static size_t name_byte_len(const unsigned char *s, size_t len)
{
	size_t n;

	if (s[0] >= 0x20 && s[0] < 0x7f)
		return 1;
	if (s[0] < 0x80)
		return 0;
	n = utf8_seq_len(s, len);
	return n && !(s[0] == 0xc2 && s[1] < 0xa0) ? n : 0;
}

size_t stresc_name(char *buf, size_t size, const char *name)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t len = strlen(name), o = 0;

	if (!size)
		return 0;
	for (size_t i = 0; i < len;) {
		size_t n = name_byte_len(s + i, len - i);

		if (n) {
			if (o + n >= size)
				break;
			memcpy(buf + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		if (o + 4 >= size)
			break;
		snprintf(buf + o, 5, "\\%03o", s[i]);
		o += 4;
		i++;
	}
	buf[o] = '\0';
	return o;
}

void stresc_print_name(FILE *out, const char *name)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t len = strlen(name);

	for (size_t i = 0; i < len;) {
		size_t n = name_byte_len(s + i, len - i);

		if (n) {
			fwrite(s + i, 1, n, out);
			i += n;
			continue;
		}
		fprintf(out, "\\%03o", s[i]);
		i++;
	}
}

void stresc_print_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	stresc_print_c(out, s, strlen(s));
	fputc('"', out);
}

void json_print_string(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len = strlen(str);

	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		size_t n;

		if (c < 0x80 && json_escapes[c]) {
			fputs(json_escapes[c], out);
			continue;
		}
		if (c >= 0x20 && c < 0x7f) {
			fputc(c, out);
			continue;
		}
		n = c >= 0x80 ? utf8_seq_len(s + i, len - i) : 0;
		if (n) {
			fwrite(s + i, 1, n, out);
			i += n - 1;
			continue;
		}
		/* A control byte, DEL, or a byte that is not part of valid UTF-8. */
		fprintf(out, "\\u%04x", c);
	}
	fputc('"', out);
}

char *json_string_array(const char *const *v, size_t n)
{
	char *json = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&json, &len);

	if (!f)
		die("out of memory");
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_print_string(f, v[i] ? v[i] : "");
	}
	fputc(']', f);
	if (fclose(f) != 0)
		die("out of memory");
	return json;
}

/*
 * stresc_json_ok - whether @s can appear inside a JSON document unchanged: no control
 * bytes, and well-formed UTF-8 (RFC 8259 requires both; stresc_print_argv() alone is
 * lenient).
 */
bool stresc_json_ok(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len = strlen(str);

	for (size_t i = 0; i < len; i++) {
		size_t n;

		if (s[i] < 0x20)
			return false;
		if (s[i] < 0x80)
			continue;
		n = utf8_seq_len(s + i, len - i);
		if (!n)
			return false;
		i += n - 1;
	}
	return true;
}

/* ---- reading back a JSON argv ----------------------------------------------------------- */

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static int hex4(const char *p, unsigned *ret)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

static size_t utf8_put(char *buf, unsigned cp)
{
	unsigned char *b = (unsigned char *)buf;

	if (cp < 0x800) {
		b[0] = 0xc0 | cp >> 6;
		b[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = 0xe0 | cp >> 12;
		b[1] = 0x80 | ((cp >> 6) & 0x3f);
		b[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	b[0] = 0xf0 | cp >> 18;
	b[1] = 0x80 | ((cp >> 12) & 0x3f);
	b[2] = 0x80 | ((cp >> 6) & 0x3f);
	b[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/*
 * json_decode_u - decode the \uXXXX escape (or surrogate pair) at *@pp, which points at the
 * 'u', into @out (4 bytes), and advance *@pp past it. Returns the byte count or -EINVAL.
 */
static int json_decode_u(const char **pp, char *out)
{
	const char *p = *pp + 1;
	unsigned cp, lo;

	if (hex4(p, &cp) < 0 || cp == 0)
		return -EINVAL;
	p += 4;
	if (cp >= 0xd800 && cp <= 0xdbff && p[0] == '\\' && p[1] == 'u' && hex4(p + 2, &lo) == 0 &&
	    lo >= 0xdc00 && lo <= 0xdfff) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	} else if (cp >= 0xd800 && cp <= 0xdfff) {
		cp = 0xfffd; /* a lone surrogate has no UTF-8 form */
	}
	*pp = p;
	/* Our own convention: U+0080..U+00FF stand for raw bytes (see json_print_string). */
	if (cp <= 0xff) {
		out[0] = (char)cp;
		return 1;
	}
	return (int)utf8_put(out, cp);
}

/*
 * json_decode_string - decode the JSON string at @p (at its opening quote) into @buf, which
 * holds at least as many bytes as the encoded string (decoding never grows it), or only
 * check it when @buf is NULL. \u0080..\u00ff decode to the single raw byte, the inverse of
 * json_print_string() for bytes that are not UTF-8. Returns the position after the closing
 * quote, or NULL if the string is malformed or contains \u0000 (argv strings cannot).
 */
static const char *json_decode_string(const char *p, char *buf, size_t *ret_len)
{
	/* The short escapes: the byte after '\' in from[] stands for the byte in to[]. */
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	char tmp[4];
	size_t len = 0;

	if (*p++ != '"')
		return NULL;
	for (;;) {
		const char *e;
		char c = *p++;
		int n;

		if (c == '\0')
			return NULL;
		if (c == '"')
			break;
		if (c == '\\' && *p == 'u') {
			n = json_decode_u(&p, tmp);
			if (n < 0)
				return NULL;
			if (buf)
				memcpy(buf + len, tmp, n);
			len += n;
			continue;
		}
		if (c == '\\') {
			e = *p ? strchr(from, *p) : NULL;
			if (!e)
				return NULL;
			c = to[e - from];
			p++;
		}
		if (buf)
			buf[len] = c;
		len++;
	}
	*ret_len = len;
	return p;
}

int stresc_print_argv_item(const char *json, unsigned idx, FILE *out)
{
	const char *p = skip_ws(json);
	char *buf = malloc(strlen(json) + 1);
	size_t len;
	int r = -EINVAL;

	if (!buf)
		return -ENOMEM;
	if (*p++ != '[')
		goto out_free;
	for (unsigned n = 0;; n++) {
		p = json_decode_string(skip_ws(p), buf, &len);
		if (!p)
			goto out_free;
		if (n == idx) {
			fputc('"', out);
			stresc_print_c(out, buf, len);
			fputc('"', out);
			r = 0;
			break;
		}
		p = skip_ws(p);
		if (*p++ != ',')
			goto out_free;
	}
out_free:
	free(buf);
	return r;
}

/*
 * print_argv - print the JSON array of strings @json the way strace shows an argv
 * (["ls", "-l"]), or with @words as words separated by spaces, each escaped as a name
 * (ls -l). With @out NULL, only check. 0, -EINVAL or -ENOMEM (nothing printed).
 */
static int print_argv(const char *json, FILE *out, bool words)
{
	const char *p = skip_ws(json);
	char *buf = NULL;
	size_t len;
	int r = -EINVAL;

	if (*p++ != '[')
		return -EINVAL;
	if (out) {
		buf = malloc(strlen(json) + 1);
		if (!buf)
			return -ENOMEM;
		if (!words)
			fputc('[', out);
	}
	p = skip_ws(p);
	if (*p != ']') {
		for (int n = 0;; n++) {
			p = json_decode_string(p, buf, &len);
			if (!p)
				goto out_free;
			if (out && words) {
				if (n)
					fputc(' ', out);
				buf[len] = '\0';
				stresc_print_name(out, buf);
			} else if (out) {
				fputs(n ? ", \"" : "\"", out);
				stresc_print_c(out, buf, len);
				fputc('"', out);
			}
			p = skip_ws(p);
			if (*p == ']')
				break;
			if (*p++ != ',')
				goto out_free;
			p = skip_ws(p);
		}
	}
	if (*skip_ws(p + 1) != '\0')
		goto out_free;
	if (out && !words)
		fputc(']', out);
	r = 0;
out_free:
	free(buf);
	return r;
}

int stresc_print_argv(const char *json, FILE *out)
{
	return print_argv(json, out, false);
}

int stresc_print_argv_words(const char *json, FILE *out)
{
	/* Checked first: a malformed array must not print half of itself. */
	int r = print_argv(json, NULL, true);

	return r < 0 || !out ? r : print_argv(json, out, true);
}
