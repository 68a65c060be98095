/*
 * diff.c - a unified diff for task reports.
 *
 * Common leading and trailing lines are trimmed first; the middle is
 * aligned by a longest-common-subsequence table when it is small (config
 * files, units), and shown as all-removed / all-added when it is not.
 * Hunks get three lines of context, like diff -u.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"

#define DIFF_TEXT_MAX	(1u << 20)	/* bigger inputs get a summary */
#define DIFF_LINES_MAX	100000
#define DIFF_LCS_CELLS	(1u << 20)	/* 4 MB of table at most */
#define DIFF_CONTEXT	3

struct lines {
	const char	**p;
	size_t		 *n;
	size_t		  count;
};

enum op_kind { OP_EQ, OP_DEL, OP_ADD };

/* One output line; ai/bi: the old/new line it shows, or where it would
 * go (the count of old/new lines before it). */
struct op {
	enum op_kind	 kind;
	size_t		 ai, bi;
};

static void
lines_free(struct lines *l)
{
	free(l->p);
	free(l->n);
	memset(l, 0, sizeof(*l));
}

static int
lines_split(const char *s, size_t len, struct lines *l)
{
	size_t i, start, count = 0;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < len; i++)
		if (s[i] == '\n')
			count++;
	if (len > 0 && s[len - 1] != '\n')
		count++;
	if (count == 0)
		return 0;
	if (count > DIFF_LINES_MAX)
		return -1;
	l->p = calloc(count, sizeof(*l->p));
	l->n = calloc(count, sizeof(*l->n));
	if (l->p == NULL || l->n == NULL) {
		lines_free(l);
		return -1;
	}
	for (i = 0, start = 0; i <= len; i++) {
		if (i == len ? i > start : s[i] == '\n') {
			l->p[l->count] = s + start;
			l->n[l->count] = i - start;
			l->count++;
			start = i + 1;
		}
	}
	return 0;
}

static int
line_eq(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
	return a->n[i] == b->n[j] && memcmp(a->p[i], b->p[j], a->n[i]) == 0;
}

static void
push(struct op *ops, size_t *n, enum op_kind k, size_t ai, size_t bi)
{
	ops[*n].kind = k;
	ops[*n].ai = ai;
	ops[*n].bi = bi;
	(*n)++;
}

/*
 * The edit script for the middle a[p..p+m) / b[p..p+n): LCS when the
 * table is affordable, else delete-all then add-all.
 */
static void
align_middle(const struct lines *a, const struct lines *b, size_t p,
    size_t m, size_t n, struct op *ops, size_t *nops)
{
	uint32_t *L = NULL;
	size_t i, j, w = n + 1;

	if (m > 0 && n > 0 && m <= DIFF_LCS_CELLS / n)
		L = calloc((m + 1) * (n + 1), sizeof(*L));
	if (L != NULL) {
		for (i = m; i-- > 0;)
			for (j = n; j-- > 0;)
				L[i * w + j] = line_eq(a, p + i, b, p + j) ?
				    L[(i + 1) * w + j + 1] + 1 :
				    L[(i + 1) * w + j] > L[i * w + j + 1] ?
				    L[(i + 1) * w + j] : L[i * w + j + 1];
	}
	i = j = 0;
	while (L != NULL && i < m && j < n) {
		if (line_eq(a, p + i, b, p + j)) {
			push(ops, nops, OP_EQ, p + i, p + j);
			i++;
			j++;
		} else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) {
			push(ops, nops, OP_DEL, p + i, p + j);
			i++;
		} else {
			push(ops, nops, OP_ADD, p + i, p + j);
			j++;
		}
	}
	for (; i < m; i++)
		push(ops, nops, OP_DEL, p + i, p + j);
	for (; j < n; j++)
		push(ops, nops, OP_ADD, p + i, p + j);
	free(L);
}

static void
emit(struct agent_outcome *o, char mark, const char *p, size_t n)
{
	agent_outcome_diff_raw(o, &mark, 1);
	agent_outcome_diff_raw(o, p, n);
	agent_outcome_diff_raw(o, "\n", 1);
}

static void
emit_hunks(struct agent_outcome *o, const struct lines *a,
    const struct lines *b, const struct op *ops, size_t nops)
{
	size_t i = 0, c, last, start, end, k, na, nb;

	while (i < nops) {
		for (c = i; c < nops && ops[c].kind == OP_EQ; c++)
			;
		if (c == nops)
			break;
		/* Extend over changes separated by little context. */
		for (last = c, k = c + 1; k < nops; k++) {
			if (ops[k].kind == OP_EQ)
				continue;
			if (k - last > 2 * DIFF_CONTEXT)
				break;
			last = k;
		}
		start = c - i > DIFF_CONTEXT ? c - DIFF_CONTEXT : i;
		end = nops - last - 1 > DIFF_CONTEXT ? last + DIFF_CONTEXT + 1 :
		    nops;
		for (na = nb = 0, k = start; k < end; k++) {
			na += ops[k].kind != OP_ADD;
			nb += ops[k].kind != OP_DEL;
		}
		agent_outcome_diff(o, "@@ -%zu,%zu +%zu,%zu @@\n",
		    na > 0 ? ops[start].ai + 1 : ops[start].ai, na,
		    nb > 0 ? ops[start].bi + 1 : ops[start].bi, nb);
		for (k = start; k < end; k++) {
			if (ops[k].kind == OP_ADD)
				emit(o, '+', b->p[ops[k].bi], b->n[ops[k].bi]);
			else
				emit(o, ops[k].kind == OP_EQ ? ' ' : '-',
				    a->p[ops[k].ai], a->n[ops[k].ai]);
		}
		i = end;
	}
}

static int
looks_binary(const char *s, size_t n)
{
	return s != NULL && memchr(s, '\0', n) != NULL;
}

void
agent_outcome_diff_text(struct agent_outcome *o, const char *label,
    const char *a, size_t alen, const char *b, size_t blen)
{
	struct lines la, lb;
	struct op *ops = NULL;
	size_t pre, suf, i, nops = 0;

	memset(&la, 0, sizeof(la));
	memset(&lb, 0, sizeof(lb));
	if (a == NULL)
		alen = 0;
	if (b == NULL)
		blen = 0;
	if (alen > DIFF_TEXT_MAX || blen > DIFF_TEXT_MAX ||
	    looks_binary(a, alen) || looks_binary(b, blen) ||
	    lines_split(a, alen, &la) != 0 || lines_split(b, blen, &lb) != 0 ||
	    (ops = calloc(la.count + lb.count + 1, sizeof(*ops))) == NULL) {
		agent_outcome_diff(o, "--- %s (%zu bytes)\n+++ %s (%zu bytes)\n"
		    "binary or large content differs\n", label, alen, label,
		    blen);
		goto out;
	}
	for (pre = 0; pre < la.count && pre < lb.count &&
	    line_eq(&la, pre, &lb, pre); pre++)
		push(ops, &nops, OP_EQ, pre, pre);
	for (suf = 0; suf < la.count - pre && suf < lb.count - pre &&
	    line_eq(&la, la.count - 1 - suf, &lb, lb.count - 1 - suf); suf++)
		;
	align_middle(&la, &lb, pre, la.count - pre - suf,
	    lb.count - pre - suf, ops, &nops);
	for (i = 0; i < suf; i++)
		push(ops, &nops, OP_EQ, la.count - suf + i, lb.count - suf + i);
	agent_outcome_diff(o, "--- %s\n+++ %s\n", label, label);
	emit_hunks(o, &la, &lb, ops, nops);
out:
	free(ops);
	lines_free(&la);
	lines_free(&lb);
}
