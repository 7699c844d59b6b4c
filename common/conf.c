/*
 * Loading kls's configuration: the INI file (through the packaged inih), command-line
 * overrides and the environment, merged by precedence into struct config, with every error
 * recorded against the file line, "command line" or environment variable it came from.
 * Also the writer that hands a validated configuration to readers, and the comparison a
 * reload needs. What each key means lives in config_keys.c.
 *
 * inih (Debian's build) calls the key handler without a line number, so the text is fed to
 * ini_parse_stream through our own reader callback: inih reads a line, handles it, then
 * reads the next, so the reader's line count is the handler's current line. The reader also
 * checks each line's shape itself, so that every malformed line is reported (inih's return
 * value names only the first), and strips leading blanks, which turns off inih's
 * continuation lines (a stray indented line is an error, not a silent append).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf_keys.h"

static const char *const sections[] = {"kls", "reader", "lease", "aws", "metrics", "handler"};

/* Environment variables, most specific first: for each key the first one set wins.
 * KINESIS_ENDPOINT and DYNAMODB_ENDPOINT are kls's own (from gokini; scripts/emulators
 * prints them), so they beat the AWS-wide names; AWS_ENDPOINT_URL fills any endpoint left. */
#define ENV_ALL_ENDPOINTS (-1)
static const struct {
	const char *name;
	int key;
} env_vars[] = {
    {"KINESIS_ENDPOINT", K_KINESIS_ENDPOINT},
    {"AWS_ENDPOINT_URL_KINESIS", K_KINESIS_ENDPOINT},
    {"DYNAMODB_ENDPOINT", K_DYNAMODB_ENDPOINT},
    {"AWS_ENDPOINT_URL_DYNAMODB", K_DYNAMODB_ENDPOINT},
    {"AWS_ENDPOINT_URL_CLOUDWATCH", K_CLOUDWATCH_ENDPOINT},
    {"AWS_ENDPOINT_URL", ENV_ALL_ENDPOINTS},
    {"AWS_REGION", K_REGION},
    {"AWS_DEFAULT_REGION", K_REGION},
    {"AWS_PROFILE", K_PROFILE},
};

_Static_assert(sizeof(env_vars) / sizeof(env_vars[0]) == CONFIG_ENV_VARS,
    "CONFIG_ENV_VARS must match the table");

/* Enough for any value of any key (strings are the largest), aligned for each type. */
union key_value {
	char s[CONFIG_VALUE_MAX + 1];
	int64_t t;
	uint32_t u;
	int e;
	bool b;
};

struct config *
config_new(void)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		return NULL;
	cfg->reader.initial_timestamp_ms = -1;
	return cfg;
}

void
config_free(struct config *cfg)
{
	free(cfg);
}

static void
add_error_v(struct config *cfg, unsigned line, const char *fmt, va_list ap)
{
	struct config_meta *m = &cfg->meta;
	if (m->error_count >= CONFIG_ERRORS_MAX) {
		m->errors_dropped++;
		return;
	}
	struct config_error *e = &m->errors[m->error_count++];
	e->line = line;
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
}

static void __attribute__((format(printf, 3, 4)))
add_error(struct config *cfg, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_error_v(cfg, line, fmt, ap);
	va_end(ap);
}

static const char *
source_name(const struct config *cfg)
{
	return cfg->meta.have_source ? cfg->meta.source : "configuration";
}

/* "orders.conf:12", "command line", "environment variable AWS_REGION", or the source. */
static void
format_where(const struct config *cfg, enum config_origin origin, unsigned line, int env_var,
    char *out, size_t size)
{
	switch (origin) {
	case CONFIG_ORIGIN_FILE:
		snprintf(out, size, "%s:%u", source_name(cfg), line);
		return;
	case CONFIG_ORIGIN_CMDLINE:
		snprintf(out, size, "command line");
		return;
	case CONFIG_ORIGIN_ENV:
		snprintf(out, size, "environment variable %s", env_vars[env_var].name);
		return;
	case CONFIG_ORIGIN_DEFAULT:
		break;
	}
	snprintf(out, size, "%s", source_name(cfg));
}

static void __attribute__((format(printf, 7, 8)))
error_at(struct config *cfg, enum config_origin origin, unsigned line, int env_var,
    const char *section, const char *key, const char *fmt, ...)
{
	char where[300], what[CONFIG_ERROR_LEN];
	format_where(cfg, origin, line, env_var, where, sizeof(where));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	add_error(cfg, origin == CONFIG_ORIGIN_FILE ? line : 0, "%s: [%s] %.60s: %s", where,
	    section, key, what);
}

void
config_key_error(struct config *cfg, int key, int alt_key, const char *fmt, ...)
{
	const struct config_meta *m = &cfg->meta;
	int at = key;
	if (m->origin[key] == CONFIG_ORIGIN_DEFAULT && alt_key >= 0)
		at = alt_key;
	char what[CONFIG_ERROR_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	error_at(cfg, m->origin[at], m->line[at], m->env_var[at], config_keys[key].section,
	    config_keys[key].name, "%s", what);
}

bool
config_key_given(const struct config *cfg, int key)
{
	return cfg->meta.origin[key] != CONFIG_ORIGIN_DEFAULT && !cfg->meta.invalid[key];
}

bool
config_key_invalid(const struct config *cfg, int key)
{
	return cfg->meta.invalid[key];
}

int
config_set_key(struct config *cfg, int key, const char *text, enum config_origin origin,
    unsigned line, int env_var)
{
	struct config_meta *m = &cfg->meta;
	const struct config_key *k = &config_keys[key];
	if (origin == CONFIG_ORIGIN_FILE) {
		if (m->line[key] != 0) {
			error_at(cfg, origin, line, env_var, k->section, k->name,
			    "duplicate key (first set on line %u)", m->line[key]);
			return -1;
		}
		m->line[key] = line;
	}
	/* Every value given is judged, even one a source of higher precedence replaces: a bad
	 * line in the file is an error whatever the command line says. */
	union key_value v;
	char why[CONFIG_ERROR_LEN];
	int rc = config_key_parse(k, text, &v, why, sizeof(why));
	if (rc == -1)
		error_at(cfg, origin, line, env_var, k->section, k->name, "%s", why);
	if (origin < m->origin[key])
		return rc;
	m->origin[key] = (uint8_t)origin;
	m->env_var[key] = (uint8_t)(env_var < 0 ? 0 : env_var);
	m->invalid[key] = rc == -1;
	if (rc == 0)
		memcpy((char *)cfg + k->offset, &v, config_key_size(k));
	return rc;
}

void
config_set_derived(struct config *cfg, int key, int from_key, const char *text)
{
	struct config_meta *m = &cfg->meta;
	const struct config_key *k = &config_keys[key];
	if (m->origin[key] != CONFIG_ORIGIN_DEFAULT || m->invalid[key])
		return;
	union key_value v;
	char why[CONFIG_ERROR_LEN];
	if (config_key_parse(k, text, &v, why, sizeof(why)) == -1) {
		m->invalid[key] = true;
		config_key_error(cfg, key, from_key, "default from [%s] %s: %s",
		    config_keys[from_key].section, config_keys[from_key].name, why);
		return;
	}
	memcpy((char *)cfg + k->offset, &v, config_key_size(k));
}

static bool
handler_key_ok(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > CONFIG_HANDLER_KEY_MAX)
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (!(isascii(c) && (isalnum(c) || c == '_' || c == '.' || c == '-')))
			return false;
	}
	return true;
}

/* A [handler] pair: kept in the order first given; the command line replaces a value in
 * place or appends a new key. */
static int
set_pair(struct config *cfg, const char *key, const char *value, enum config_origin origin,
    unsigned line)
{
	struct config_meta *m = &cfg->meta;
	char why[CONFIG_ERROR_LEN];
	if (!handler_key_ok(key)) {
		error_at(cfg, origin, line, 0, "handler", key,
		    "a handler key is 1 to %d letters, digits, '_', '.' or '-'",
		    CONFIG_HANDLER_KEY_MAX);
		return -1;
	}
	if (config_value_check(value, CONFIG_VALUE_MAX, why, sizeof(why)) == -1) {
		error_at(cfg, origin, line, 0, "handler", key, "%s", why);
		return -1;
	}
	size_t i;
	for (i = 0; i < cfg->handler_count; i++) {
		if (strcmp(cfg->handler[i].key, key) == 0)
			break;
	}
	if (i < cfg->handler_count && origin == CONFIG_ORIGIN_FILE && m->pair_line[i] != 0) {
		error_at(cfg, origin, line, 0, "handler", key,
		    "duplicate key (first set on line %u)", m->pair_line[i]);
		return -1;
	}
	if (i == cfg->handler_count) {
		if (i == CONFIG_HANDLER_MAX) {
			error_at(cfg, origin, line, 0, "handler", key, "more than %d handler keys",
			    CONFIG_HANDLER_MAX);
			return -1;
		}
		cfg->handler_count++;
		snprintf(cfg->handler[i].key, sizeof(cfg->handler[i].key), "%s", key);
		m->pair_origin[i] = CONFIG_ORIGIN_DEFAULT;
	}
	if (origin == CONFIG_ORIGIN_FILE)
		m->pair_line[i] = line;
	if (origin >= m->pair_origin[i]) {
		m->pair_origin[i] = (uint8_t)origin;
		snprintf(cfg->handler[i].value, sizeof(cfg->handler[i].value), "%s", value);
	}
	return 0;
}

/* A key from any source except the environment: [handler] pairs or a table key. */
static int
set_section_key(struct config *cfg, const char *section, const char *name, const char *value,
    enum config_origin origin, unsigned line)
{
	if (strcmp(section, "handler") == 0)
		return set_pair(cfg, name, value, origin, line);
	int key = config_key_find(section, name);
	if (key < 0) {
		error_at(cfg, origin, line, 0, section, name, "unknown key");
		return -1;
	}
	return config_set_key(cfg, key, value, origin, line, -1);
}

static bool
known_section(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (strlen(sections[i]) == len && memcmp(sections[i], s, len) == 0)
			return true;
	}
	return false;
}

/* State of one parse, shared by the reader and handler callbacks. */
struct parse {
	struct config *cfg;
	const char *p, *end;
	unsigned line;
	bool skip; /* inside an unknown section: its keys are not reported one by one */
};

/* Where inih's find_chars_or_comment stops for a key line: at '=' or ':', or at a ';'
 * after a blank (an inline comment), or at the end. */
static const char *
key_separator(const char *s, const char *end)
{
	bool was_space = false;
	for (; s < end; s++) {
		if (*s == '=' || *s == ':' || (was_space && *s == ';'))
			return s;
		was_space = *s == ' ' || *s == '\t';
	}
	return end;
}

/* Checks the shape of one line (already without leading blanks); 0, or -1 after recording
 * an error. Tracks the current section so unknown ones are reported once, at the header. */
static int
check_line(struct parse *ps, const char *s, size_t len)
{
	if (len == 0 || s[0] == ';' || s[0] == '#')
		return 0;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);
		const char *stop = key_separator(s, s + len);
		if (close == NULL || (*stop == ';' && stop < close)) {
			add_error(ps->cfg, ps->line, "%s:%u: syntax error: '[' without ']'",
			    source_name(ps->cfg), ps->line);
			ps->skip = true;
			return -1;
		}
		const char *rest = close + 1;
		while (rest < s + len && (*rest == ' ' || *rest == '\t'))
			rest++;
		if (rest < s + len && *rest != ';' && *rest != '#') {
			add_error(ps->cfg, ps->line, "%s:%u: syntax error: text after ']'",
			    source_name(ps->cfg), ps->line);
			ps->skip = true;
			return -1;
		}
		ps->skip = !known_section(s + 1, (size_t)(close - s - 1));
		if (ps->skip)
			add_error(ps->cfg, ps->line, "%s:%u: unknown section [%.*s]",
			    source_name(ps->cfg), ps->line,
			    (int)(close - s - 1 > 60 ? 60 : close - s - 1), s + 1);
		return 0;
	}
	const char *sep = key_separator(s, s + len);
	if (sep == s + len || *sep == ';') {
		add_error(ps->cfg, ps->line, "%s:%u: syntax error: expected 'key = value'",
		    source_name(ps->cfg), ps->line);
		return -1;
	}
	return 0;
}

/* inih's fgets-like reader: hands over one line at a time, counting them. */
static char *
parse_reader(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	if (ps->p >= ps->end)
		return NULL;
	const char *nl = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
	const char *line_end = nl != NULL ? nl : ps->end;
	const char *s = ps->p;
	ps->p = nl != NULL ? nl + 1 : ps->end;
	ps->line++;

	if (ps->line == 1 && line_end - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (s < line_end && (*s == ' ' || *s == '\t'))
		s++;
	size_t len = (size_t)(line_end - s);
	if (len > 0 && s[len - 1] == '\r')
		len--;
	str[0] = '\0';
	if (memchr(s, '\0', len) != NULL) {
		add_error(ps->cfg, ps->line, "%s:%u: line contains a NUL byte",
		    source_name(ps->cfg), ps->line);
		return str;
	}
	/* inih needs room for the line, a newline and the NUL in num bytes. */
	if (num < 3 || len > (size_t)num - 3) {
		add_error(ps->cfg, ps->line, "%s:%u: line is longer than %d characters",
		    source_name(ps->cfg), ps->line, num - 3);
		return str;
	}
	if (check_line(ps, s, len) == -1)
		return str;
	memcpy(str, s, len);
	str[len] = '\0';
	return str;
}

static int
parse_handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;
	if (ps->skip)
		return 1;
	if (section[0] == '\0') {
		add_error(ps->cfg, ps->line, "%s:%u: %.60s: key before any [section]",
		    source_name(ps->cfg), ps->line, name);
		return 1;
	}
	set_section_key(ps->cfg, section, name, value, CONFIG_ORIGIN_FILE, ps->line);
	/* Errors are recorded here; returning 0 would only make inih report the line again. */
	return 1;
}

static bool
has_error_on_line(const struct config *cfg, unsigned line)
{
	for (size_t i = 0; i < cfg->meta.error_count; i++) {
		if (cfg->meta.errors[i].line == line)
			return true;
	}
	return false;
}

static int
take_source(struct config *cfg, const char *label)
{
	struct config_meta *m = &cfg->meta;
	if (m->have_source) {
		add_error(
		    cfg, 0, "%s: a configuration was already loaded from %s", label, m->source);
		return -1;
	}
	snprintf(m->source, sizeof(m->source), "%s", label);
	m->have_source = true;
	return 0;
}

static int
parse_text(struct config *cfg, const char *text, size_t len)
{
	size_t before = cfg->meta.error_count + cfg->meta.errors_dropped;
	struct parse ps = {.cfg = cfg, .p = text, .end = text + len};
	int rc = ini_parse_stream(parse_reader, &ps, parse_handler, &ps);
	if (rc == -2)
		add_error(cfg, 0, "%s: out of memory while parsing", source_name(cfg));
	else if (rc > 0 && !has_error_on_line(cfg, (unsigned)rc))
		add_error(cfg, (unsigned)rc, "%s:%d: syntax error", source_name(cfg), rc);
	return cfg->meta.error_count + cfg->meta.errors_dropped == before ? 0 : -1;
}

int
config_parse_string(struct config *cfg, const char *text, const char *label)
{
	if (take_source(cfg, label) == -1)
		return -1;
	return parse_text(cfg, text, strlen(text));
}

/* Reads all of fd (from offset 0 with pread when it can seek) into b. */
static int
read_all(int fd, struct kls_buf *b)
{
	off_t off = 0;
	bool seekable = lseek(fd, 0, SEEK_CUR) != (off_t)-1;
	for (;;) {
		if (buf_reserve(b, 4096) == -1)
			return -1;
		ssize_t n = seekable ? pread(fd, b->data + b->len, b->cap - b->len - 1, off)
		                     : read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
		off += n;
	}
	return 0;
}

int
config_parse_fd(struct config *cfg, int fd, const char *label)
{
	if (take_source(cfg, label) == -1)
		return -1;
	struct kls_buf b;
	buf_init(&b, CONFIG_TEXT_MAX);
	int rc;
	if (read_all(fd, &b) == -1) {
		if (errno == EMSGSIZE)
			add_error(cfg, 0, "%s: larger than %d bytes", label, CONFIG_TEXT_MAX);
		else
			add_error(cfg, 0, "%s: read: %s", label, strerror(errno));
		rc = -1;
	} else {
		rc = parse_text(cfg, b.data != NULL ? b.data : "", b.len);
	}
	buf_free(&b);
	return rc;
}

int
config_parse_file(struct config *cfg, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1) {
		int saved = errno;
		if (take_source(cfg, path) == 0)
			add_error(cfg, 0, "%s: open: %s", path, strerror(saved));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		if (take_source(cfg, path) == 0)
			add_error(cfg, 0, "%s: is a directory", path);
		return -1;
	}
	int rc = config_parse_fd(cfg, fd, path);
	close(fd);
	return rc;
}

/* Trims blanks at both ends of s[0..len) into out; false when it does not fit. */
static bool
trimmed(const char *s, size_t len, char *out, size_t size)
{
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= size)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

int
config_set_override(struct config *cfg, const char *key, const char *value)
{
	char section[32], name[64], val[CONFIG_VALUE_MAX + 2];
	const char *dot = strchr(key, '.');
	if (dot == NULL || !trimmed(key, (size_t)(dot - key), section, sizeof(section)) ||
	    !trimmed(dot + 1, strlen(dot + 1), name, sizeof(name)) || section[0] == '\0' ||
	    name[0] == '\0') {
		add_error(cfg, 0, "command line: \"%.60s\": expected section.key", key);
		return -1;
	}
	if (!known_section(section, strlen(section))) {
		add_error(cfg, 0, "command line: %.60s: unknown section [%s]", key, section);
		return -1;
	}
	if (!trimmed(value, strlen(value), val, sizeof(val))) {
		error_at(cfg, CONFIG_ORIGIN_CMDLINE, 0, 0, section, name,
		    "value is longer than %d characters", CONFIG_VALUE_MAX);
		return -1;
	}
	return set_section_key(cfg, section, name, val, CONFIG_ORIGIN_CMDLINE, 0);
}

int
config_parse_override(struct config *cfg, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char key[100];
	if (eq == NULL || (size_t)(eq - arg) >= sizeof(key)) {
		add_error(cfg, 0, "command line: \"%.60s\": expected section.key=value", arg);
		return -1;
	}
	memcpy(key, arg, (size_t)(eq - arg));
	key[eq - arg] = '\0';
	return config_set_override(cfg, key, eq + 1);
}

int
config_apply_env(struct config *cfg, char *const *envp)
{
	struct config_meta *m = &cfg->meta;
	for (int i = 0; i < CONFIG_ENV_VARS; i++) {
		m->env_set[i] = false;
		size_t nlen = strlen(env_vars[i].name);
		for (char *const *e = envp; e != NULL && *e != NULL; e++) {
			if (strncmp(*e, env_vars[i].name, nlen) != 0 || (*e)[nlen] != '=')
				continue;
			const char *v = *e + nlen + 1;
			/* AWS tools treat an empty variable as unset. A value too long to keep
			 * is kept one character too long, so that the key's length check
			 * reports it. */
			if (*v == '\0')
				continue;
			snprintf(m->env_value[i], sizeof(m->env_value[i]), "%s", v);
			m->env_set[i] = true;
		}
	}
	return 0;
}

static void
apply_env(struct config *cfg)
{
	static const int endpoints[] = {
	    K_KINESIS_ENDPOINT, K_DYNAMODB_ENDPOINT, K_CLOUDWATCH_ENDPOINT};
	struct config_meta *m = &cfg->meta;
	for (int i = 0; i < CONFIG_ENV_VARS; i++) {
		if (!m->env_set[i])
			continue;
		for (size_t j = 0; j < 3; j++) {
			int key =
			    env_vars[i].key == ENV_ALL_ENDPOINTS ? endpoints[j] : env_vars[i].key;
			/* Only keys no file or command line set, and not one an earlier (more
			 * specific) variable already set. */
			if (m->origin[key] == CONFIG_ORIGIN_DEFAULT && !m->invalid[key])
				config_set_key(cfg, key, m->env_value[i], CONFIG_ORIGIN_ENV, 0, i);
			if (env_vars[i].key != ENV_ALL_ENDPOINTS)
				break;
		}
	}
}

int
config_finish(struct config *cfg)
{
	struct config_meta *m = &cfg->meta;
	if (m->finished)
		return m->error_count + m->errors_dropped == 0 ? 0 : -1;
	apply_env(cfg);
	for (int key = 0; key < K_COUNT; key++) {
		const struct config_key *k = &config_keys[key];
		if (m->origin[key] != CONFIG_ORIGIN_DEFAULT || m->invalid[key])
			continue;
		if (k->flags & CK_REQUIRED) {
			config_key_error(cfg, key, -1, "required key is missing");
			m->invalid[key] = true;
		} else if (k->def != NULL) {
			union key_value v;
			char why[CONFIG_ERROR_LEN];
			if (config_key_parse(k, k->def, &v, why, sizeof(why)) == 0)
				memcpy((char *)cfg + k->offset, &v, config_key_size(k));
			else
				config_key_error(cfg, key, -1, "bad built-in default: %s", why);
		}
	}
	config_derive_defaults(cfg);
	config_check_rules(cfg);
	m->finished = true;
	return m->error_count + m->errors_dropped == 0 ? 0 : -1;
}

struct config *
config_load_file(const char *path)
{
	struct config *cfg = config_new();
	if (cfg == NULL)
		return NULL;
	if (config_parse_file(cfg, path) == 0)
		config_finish(cfg);
	return cfg;
}

struct config *
config_load_fd(int fd, const char *label)
{
	struct config *cfg = config_new();
	if (cfg == NULL)
		return NULL;
	if (config_parse_fd(cfg, fd, label) == 0)
		config_finish(cfg);
	return cfg;
}

size_t
config_error_count(const struct config *cfg)
{
	return cfg->meta.error_count;
}

size_t
config_errors_dropped(const struct config *cfg)
{
	return cfg->meta.errors_dropped;
}

const struct config_error *
config_error_at(const struct config *cfg, size_t i)
{
	return i < cfg->meta.error_count ? &cfg->meta.errors[i] : NULL;
}

static int
write_origin(const struct config *cfg, enum config_origin origin, unsigned line, int env_var,
    struct kls_buf *out)
{
	if (origin == CONFIG_ORIGIN_DEFAULT)
		return buf_puts(out, "# default\n");
	char where[300];
	format_where(cfg, origin, line, env_var, where, sizeof(where));
	return buf_printf(out, "# from %s\n", where);
}

int
config_write_buf(const struct config *cfg, struct kls_buf *out, unsigned flags)
{
	const struct config_meta *m = &cfg->meta;
	if (!m->finished || m->error_count + m->errors_dropped != 0) {
		errno = EINVAL;
		return -1;
	}
	int rc = buf_puts(out, "# kls configuration: every key with its effective value\n");
	const char *section = NULL;
	for (int key = 0; key < K_COUNT && rc == 0; key++) {
		const struct config_key *k = &config_keys[key];
		if (section == NULL || strcmp(section, k->section) != 0) {
			section = k->section;
			rc = buf_printf(out, "\n[%s]\n", section);
		}
		if (rc == 0 && (flags & CONFIG_WRITE_ORIGINS))
			rc = write_origin(cfg, m->origin[key], m->line[key], m->env_var[key], out);
		size_t mark = out->len;
		if (rc == 0)
			rc = buf_printf(out, "%s = ", k->name);
		if (rc == 0)
			rc = config_key_format(k, cfg, out);
		/* "key =" for a key that is not set: no trailing blank. */
		if (rc == 0 && out->len == mark + strlen(k->name) + 3)
			out->data[--out->len] = '\0';
		if (rc == 0)
			rc = buf_puts(out, "\n");
	}
	if (rc == 0)
		rc = buf_puts(out, "\n[handler]\n");
	for (size_t i = 0; i < cfg->handler_count && rc == 0; i++) {
		if (flags & CONFIG_WRITE_ORIGINS)
			rc = write_origin(cfg, m->pair_origin[i], m->pair_line[i], 0, out);
		if (rc == 0)
			rc = buf_printf(out, "%s =%s%s\n", cfg->handler[i].key,
			    cfg->handler[i].value[0] != '\0' ? " " : "", cfg->handler[i].value);
	}
	return rc;
}

int
config_write(const struct config *cfg, FILE *f)
{
	struct kls_buf b;
	buf_init(&b, 0);
	int rc = config_write_buf(cfg, &b, 0);
	if (rc == 0 && (fwrite(b.data, 1, b.len, f) != b.len || fflush(f) != 0)) {
		if (errno == 0)
			errno = EIO;
		rc = -1;
	}
	buf_free(&b);
	return rc;
}

static bool
pairs_equal(const struct config *a, const struct config *b)
{
	if (a->handler_count != b->handler_count)
		return false;
	for (size_t i = 0; i < a->handler_count; i++) {
		if (strcmp(a->handler[i].key, b->handler[i].key) != 0 ||
		    strcmp(a->handler[i].value, b->handler[i].value) != 0)
			return false;
	}
	return true;
}

bool
config_equal(const struct config *a, const struct config *b)
{
	for (int key = 0; key < K_COUNT; key++) {
		if (!config_key_equal(&config_keys[key], a, b))
			return false;
	}
	return pairs_equal(a, b);
}

void
config_compare(const struct config *old, const struct config *new, struct config_change *out)
{
	memset(out, 0, sizeof(*out));
	for (int key = 0; key < K_COUNT; key++) {
		const struct config_key *k = &config_keys[key];
		if (config_key_equal(k, old, new))
			continue;
		if (k->flags & CK_RESTART) {
			if (out->restart_key[0] == '\0')
				snprintf(out->restart_key, sizeof(out->restart_key), "%s.%s",
				    k->section, k->name);
			continue;
		}
		if (k->flags & CK_READER)
			out->readers = true;
		if (k->flags & CK_SUPER)
			out->supervisor = true;
	}
	if (!pairs_equal(old, new))
		out->readers = true;
}
