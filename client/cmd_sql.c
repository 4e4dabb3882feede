// SPDX-License-Identifier: MIT
/*
 * vmatrace sql: one read-only SQL statement on a trace, printed as aligned columns under a
 * header (sqlite3's `.mode column`), as '|'-separated lines (sqlite3's default list mode,
 * with the header) or as JSON Lines (one object per row, like every --json of vmatrace).
 * The statement runs through lib/ (store_sql_exec), which refuses anything that writes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "store.h"
#include "sysent.h"
#include "xalloc.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace sql [-d DB] [--list | --json] 'SELECT ...'\n"
		"\n"
		"Run one read-only SQL statement on DB and print its rows. The tables and views\n"
		"are documented in sql/schema.sql and the README (events_v, vmas_v, processes_v).\n"
		"Statements that write or change the connection (INSERT, DELETE, VACUUM, ATTACH,\n"
		"PRAGMA x = y...) are refused, and so is more than one statement.\n"
		"\n"
		"  -d, --db DB   read DB (default ./%s)\n"
		"  -l, --list    '|'-separated values with a header line, as sqlite3 prints them\n"
		"                (rows are printed as they come; the default waits for the last\n"
		"                row to align the columns)\n"
		"      --json    JSON Lines: one object per row, column names as keys; integers\n"
		"                and reals as numbers, NULL as null, BLOBs as hex strings\n"
		"  -h, --help    show this help\n"
		"\n"
		"Default output: a header, a line of dashes, then the rows in columns two spaces\n"
		"apart (sqlite3's .mode column); NULL prints as nothing; no rows, no output.\n",
		DB_DEFAULT);
}

enum sql_mode { MODE_COLUMN, MODE_LIST, MODE_JSON };

struct sql_out {
	enum sql_mode mode;
	uint64_t rows;
	/* MODE_COLUMN: every cell, row-major, header first, until the end. */
	char **cells;
	size_t n_cells, cap;
	int n_cols;
};

/* cell_text - a value as text for people: NULL as '', a BLOB as x'hex' (malloc'ed). */
static char *cell_text(const struct store_sql_row *row, int i)
{
	if (row->types[i] == STORE_SQL_NULL)
		return xstrdup("");
	if (row->types[i] != STORE_SQL_BLOB)
		return xstrdup(row->texts[i]);
	char *s = xmalloc(2 * (size_t)row->lens[i] + 4);
	size_t n = 0;
	s[n++] = 'x';
	s[n++] = '\'';
	for (int k = 0; k < row->lens[i]; k++)
		n += (size_t)sprintf(s + n, "%02x", (unsigned char)row->texts[i][k]);
	s[n++] = '\'';
	s[n] = '\0';
	return s;
}

static void print_json(const struct store_sql_row *row)
{
	putchar('{');
	for (int i = 0; i < row->n_cols; i++) {
		if (i)
			putchar(',');
		json_print_string(stdout, row->names[i]);
		putchar(':');
		const char *t = row->texts[i];
		switch (row->types[i]) {
		case STORE_SQL_NULL:
			fputs("null", stdout);
			break;
		case STORE_SQL_INTEGER:
			fputs(t, stdout);
			break;
		case STORE_SQL_FLOAT:
			/* SQLite writes infinities as "Inf"; JSON has no such number. */
			if ((t[0] >= '0' && t[0] <= '9') || (t[0] == '-' && t[1] >= '0' && t[1] <= '9'))
				fputs(t, stdout);
			else
				fputs("null", stdout);
			break;
		case STORE_SQL_BLOB: {
			putchar('"');
			for (int k = 0; k < row->lens[i]; k++)
				printf("%02x", (unsigned char)t[k]);
			putchar('"');
			break;
		}
		default:
			json_print_string(stdout, t);
		}
	}
	fputs("}\n", stdout);
}

static void print_list_line(int n, char *const *cells)
{
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? "|" : "", cells[i]);
	putchar('\n');
}

static void keep_cell(struct sql_out *o, char *cell)
{
	if (o->n_cells == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 256;
		o->cells = xrealloc(o->cells, o->cap * sizeof(*o->cells));
	}
	o->cells[o->n_cells++] = cell;
}

static int on_row(const struct store_sql_row *row, void *data)
{
	struct sql_out *o = data;
	char **line;

	if (o->mode == MODE_JSON) {
		print_json(row);
		o->rows++;
		return 0;
	}
	if (!o->rows++) {
		o->n_cols = row->n_cols;
		if (o->mode == MODE_LIST)
			print_list_line(row->n_cols, (char *const *)row->names);
		else
			for (int i = 0; i < row->n_cols; i++)
				keep_cell(o, xstrdup(row->names[i]));
	}
	line = xcalloc((size_t)row->n_cols + 1, sizeof(*line));
	for (int i = 0; i < row->n_cols; i++) {
		line[i] = cell_text(row, i);
		if (o->mode == MODE_COLUMN)
			keep_cell(o, line[i]);
	}
	if (o->mode == MODE_LIST) {
		print_list_line(row->n_cols, line);
		for (int i = 0; i < row->n_cols; i++)
			free(line[i]);
	}
	free(line);
	return 0;
}

/* print_columns - the kept cells, header underlined, each column as wide as its widest. */
static void print_columns(struct sql_out *o)
{
	size_t *w;
	int n = o->n_cols;

	if (!o->n_cells || n <= 0)
		return;
	w = xcalloc((size_t)n, sizeof(*w));
	for (size_t c = 0; c < o->n_cells; c++) {
		size_t len = strlen(o->cells[c]);
		if (len > w[c % (size_t)n])
			w[c % (size_t)n] = len;
	}
	for (size_t r = 0; r * (size_t)n < o->n_cells; r++) {
		for (int i = 0; i < n; i++) {
			const char *s = o->cells[r * (size_t)n + (size_t)i];
			/* The last column is not padded: no trailing blanks. */
			printf("%s%-*s", i ? "  " : "", i == n - 1 ? 0 : (int)w[i], s);
		}
		putchar('\n');
		if (r == 0) {
			for (int i = 0; i < n; i++) {
				printf("%s", i ? "  " : "");
				for (size_t k = 0; k < w[i]; k++)
					putchar('-');
			}
			putchar('\n');
		}
	}
	free(w);
}

static struct sql_out arg_out = { .mode = MODE_COLUMN };
static const char *arg_sql;

static void parse_opt(int c, const char *arg)
{
	(void)arg;
	if (c == 'l')
		arg_out.mode = MODE_LIST;
	else if (c == 'J')
		arg_out.mode = MODE_JSON;
}

static void check(struct cmd_args *a, int argc, char **argv)
{
	(void)a;
	if (argc != 1)
		die("sql: expected one SQL statement (see 'vmatrace sql --help')");
	arg_sql = argv[0];
}

static int cmd_sql(struct cmd_args *a)
{
	struct store_ro *r = a->r;
	struct sql_out o = arg_out;
	int err;

	err = store_sql_exec(r, arg_sql, on_row, &o);
	if (!err && o.mode == MODE_COLUMN)
		print_columns(&o);
	if (err == -EROFS)
		log_error("sql: refused: the statement would write to the trace or change the "
			  "connection (only SELECT, WITH, EXPLAIN and PRAGMAs that read)");
	else if (err == -ENOTSUP)
		log_error("sql: refused: more than one statement (run them one at a time)");
	else if (err == -ENODATA)
		log_error("sql: no SQL statement given");
	else if (err < 0)
		log_error("sql: %s", store_ro_errmsg(r));
	for (size_t i = 0; i < o.n_cells; i++)
		free(o.cells[i]);
	free(o.cells);
	if (err)
		return 1;
	return 0;
}

QUERY_COMMAND(sql, "d:lh", parse_opt, check,
	      ARG_OPT_DB, ARG_OPT_JSON, ARG_OPT_HELP,
	      { "list", no_argument, NULL, 'l' });
