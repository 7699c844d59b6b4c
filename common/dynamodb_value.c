/*
 * DynamoDB attribute values: the typed values kls sends (S, N, SS, NULL, BOOL) and
 * the items it reads, whose attribute maps are checked once at parse time so the
 * getters can trust their shape.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/awsjson.h"
#include "common/dynamodb_int.h"

/* Attribute names and map sizes we accept in what we read (service limits). */
#define READ_NAME_MAX (64 * 1024)
#define READ_ATTRS_MAX 4096

/* ---- values ---- */

/* DynamoDB's number syntax: sign, digits, optional fraction and exponent. */
static bool
valid_number(const char *s)
{
	const char *p = s;

	if (!s || strlen(s) > DDB_NUMBER_MAX)
		return false;
	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

bool
ddbi_valid_table(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if (n >= DDB_TABLE_NAME_MAX || !((s[n] >= 'a' && s[n] <= 'z') ||
						   (s[n] >= 'A' && s[n] <= 'Z') ||
						   (s[n] >= '0' && s[n] <= '9') || strchr("_.-", s[n])))
			return false;
	return n >= 3;
}

bool
ddbi_valid_attr_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 1 && n <= DDB_ATTR_NAME_MAX;
}

static json_object *
tagged(const char *tag, json_object *v)
{
	json_object *o;

	if (!v)
		return NULL;
	o = json_object_new_object();
	if (!o || json_object_object_add(o, tag, v) < 0) {
		json_object_put(v);
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The wire form of v, or NULL with why filled. */
json_object *
ddbi_value_json(struct ddb_value v, char *why, size_t whysize)
{
	char num[24];
	json_object *arr;

	switch (v.type) {
	case DDB_T_S:
		if (!v.s || strlen(v.s) > DDB_STRING_MAX) {
			snprintf(why, whysize, "string value missing or longer than %d", DDB_STRING_MAX);
			return NULL;
		}
		return tagged("S", json_object_new_string(v.s));
	case DDB_T_N:
		if (!v.s) {
			snprintf(num, sizeof(num), "%" PRId64, v.i);
			return tagged("N", json_object_new_string(num));
		}
		if (!valid_number(v.s)) {
			snprintf(why, whysize, "\"%.48s\" is not a number", v.s);
			return NULL;
		}
		return tagged("N", json_object_new_string(v.s));
	case DDB_T_SS:
		if (!v.ss || v.nss < 1 || v.nss > DDB_SET_MAX) {
			snprintf(why, whysize, "string set of %zu elements, not 1..%d", v.nss, DDB_SET_MAX);
			return NULL;
		}
		for (size_t i = 0; i < v.nss; i++) {
			if (!v.ss[i] || strlen(v.ss[i]) > DDB_STRING_MAX) {
				snprintf(why, whysize, "string set element %zu missing or too long", i);
				return NULL;
			}
			for (size_t j = 0; j < i; j++)
				if (strcmp(v.ss[i], v.ss[j]) == 0) {
					snprintf(why, whysize, "string set repeats \"%.48s\"", v.ss[i]);
					return NULL;
				}
		}
		if (!(arr = json_object_new_array_ext((int)v.nss)))
			break;
		for (size_t i = 0; i < v.nss; i++) {
			json_object *e = json_object_new_string(v.ss[i]);
			if (!e || json_object_array_add(arr, e) < 0) {
				json_object_put(e);
				json_object_put(arr);
				arr = NULL;
				break;
			}
		}
		return tagged("SS", arr);
	case DDB_T_NULL:
		return tagged("NULL", json_object_new_boolean(1));
	case DDB_T_BOOL:
		return tagged("BOOL", json_object_new_boolean(v.b));
	default:
		snprintf(why, whysize, "value of unknown type %d", (int)v.type);
		return NULL;
	}
	snprintf(why, whysize, "out of memory");
	return NULL;
}

/* A short, printable form of a key for error messages. */
void
ddbi_describe_value(struct ddb_value v, char *out, size_t size)
{
	if (v.type == DDB_T_S && v.s)
		snprintf(out, size, "%.96s", v.s);
	else if (v.type == DDB_T_N && v.s)
		snprintf(out, size, "%.48s", v.s);
	else if (v.type == DDB_T_N)
		snprintf(out, size, "%" PRId64, v.i);
	else
		snprintf(out, size, "?");
}

/* ---- items read ---- */

static const char *const type_tags[] = { "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL" };

static int
check_value(json_object *v, const char *where, const char *name, struct aws_error *err)
{
	const char *tag = NULL;
	json_object *inner = NULL;
	bool known = false;

	if (!json_object_is_type(v, json_type_object) || json_object_object_length(v) != 1) {
		awsj_bad_response(err, "%s.%.64s: not an attribute value (an object with one type)",
		    where, name);
		return -1;
	}
	json_object_object_foreach(v, k, val)
	{
		tag = k;
		inner = val;
	}
	for (size_t i = 0; i < sizeof(type_tags) / sizeof(type_tags[0]); i++)
		known |= strcmp(tag, type_tags[i]) == 0;
	if (!known) {
		awsj_bad_response(err, "%s.%.64s: unknown attribute type \"%.16s\"", where, name, tag);
		return -1;
	}
	if (!strcmp(tag, "S") || !strcmp(tag, "N") || !strcmp(tag, "B")) {
		if (!json_object_is_type(inner, json_type_string))
			goto wrong;
		if (!strcmp(tag, "N") && !valid_number(json_object_get_string(inner))) {
			awsj_bad_response(err, "%s.%.64s: N \"%.48s\" is not a number", where, name,
			    json_object_get_string(inner));
			return -1;
		}
	} else if (!strcmp(tag, "SS") || !strcmp(tag, "NS") || !strcmp(tag, "BS")) {
		if (!json_object_is_type(inner, json_type_array))
			goto wrong;
		for (size_t i = 0; i < json_object_array_length(inner); i++)
			if (!json_object_is_type(json_object_array_get_idx(inner, i), json_type_string))
				goto wrong;
	} else if (!strcmp(tag, "M")) {
		if (!json_object_is_type(inner, json_type_object))
			goto wrong;
	} else if (!strcmp(tag, "L")) {
		if (!json_object_is_type(inner, json_type_array))
			goto wrong;
	} else if (!json_object_is_type(inner, json_type_boolean)) {
		goto wrong;
	}
	return 0;
wrong:
	awsj_bad_response(err, "%s.%.64s: %s value is a JSON %s", where, name, tag,
	    json_type_to_name(json_object_get_type(inner)));
	return -1;
}

int
ddb_item_from_json(json_object *map, const char *where, struct ddb_item *out,
    struct aws_error *err)
{
	out->attrs = NULL;
	if (!json_object_is_type(map, json_type_object)) {
		awsj_bad_response(err, "%s: %s, expected an attribute map", where,
		    json_type_to_name(json_object_get_type(map)));
		return -1;
	}
	if (json_object_object_length(map) > READ_ATTRS_MAX) {
		awsj_bad_response(err, "%s: %d attributes, more than %d", where,
		    json_object_object_length(map), READ_ATTRS_MAX);
		return -1;
	}
	json_object_object_foreach(map, name, v)
	{
		if (strlen(name) > READ_NAME_MAX) {
			awsj_bad_response(err, "%s: attribute name longer than %d", where, READ_NAME_MAX);
			return -1;
		}
		if (check_value(v, where, name, err) < 0)
			return -1;
	}
	out->attrs = json_object_get(map);
	return 0;
}

void
ddb_item_free(struct ddb_item *it)
{
	json_object_put(it->attrs);
	it->attrs = NULL;
}

void
ddb_item_list_free(struct ddb_item_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		ddb_item_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* The inner value of attribute name when its tag is tag; NULL otherwise. */
static json_object *
attr(const struct ddb_item *it, const char *name, const char *tag)
{
	json_object *v, *inner;

	if (!it || !it->attrs || !json_object_object_get_ex(it->attrs, name, &v))
		return NULL;
	return json_object_object_get_ex(v, tag, &inner) ? inner : NULL;
}

enum ddb_type
ddb_item_type(const struct ddb_item *it, const char *name)
{
	static const struct {
		const char *tag;
		enum ddb_type t;
	} map[] = { { "S", DDB_T_S }, { "N", DDB_T_N }, { "SS", DDB_T_SS }, { "NULL", DDB_T_NULL },
		{ "BOOL", DDB_T_BOOL } };
	json_object *v;

	if (!it || !it->attrs || !json_object_object_get_ex(it->attrs, name, &v))
		return DDB_T_NONE;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (json_object_object_get_ex(v, map[i].tag, NULL))
			return map[i].t;
	return DDB_T_OTHER;
}

const char *
ddb_item_s(const struct ddb_item *it, const char *name)
{
	json_object *v = attr(it, name, "S");
	return v ? json_object_get_string(v) : NULL;
}

const char *
ddb_item_n(const struct ddb_item *it, const char *name)
{
	json_object *v = attr(it, name, "N");
	return v ? json_object_get_string(v) : NULL;
}

int
ddb_item_int(const struct ddb_item *it, const char *name, int64_t *out)
{
	const char *s = ddb_item_n(it, name);
	char *end;
	long long x;

	if (!s)
		return -1;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = x;
	return 0;
}

int
ddb_item_bool(const struct ddb_item *it, const char *name, bool *out)
{
	json_object *v = attr(it, name, "BOOL");
	if (!v)
		return -1;
	*out = json_object_get_boolean(v);
	return 0;
}

size_t
ddb_item_ss_count(const struct ddb_item *it, const char *name)
{
	json_object *v = attr(it, name, "SS");
	return v ? json_object_array_length(v) : 0;
}

const char *
ddb_item_ss_at(const struct ddb_item *it, const char *name, size_t i)
{
	json_object *v = attr(it, name, "SS");
	if (!v || i >= json_object_array_length(v))
		return NULL;
	return json_object_get_string(json_object_array_get_idx(v, i));
}

int
ddbi_list_push(struct ddb_item_list *l, struct ddb_item it, struct aws_error *err)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct ddb_item *p = realloc(l->v, cap * sizeof(*p));
		if (!p) {
			awsj_local_error(err, "NoMemory", "%zu items: %s", cap, strerror(errno));
			return -1;
		}
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n++] = it;
	return 0;
}
