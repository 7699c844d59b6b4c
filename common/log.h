/*
 * Logging for every kls process: levels, stderr (with journald priority prefixes
 * when run under systemd) or syslog. Log once, where an error is handled, naming
 * the call, its arguments and the reason. Never pass a secret to these functions.
 */
#ifndef KLS_LOG_H
#define KLS_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

enum log_target {
	LOG_TARGET_STDERR,  /* plain "ident[pid]: level: message" lines */
	LOG_TARGET_JOURNAL, /* stderr with "<N>" priority prefixes (systemd) */
	LOG_TARGET_SYSLOG,
};

/* Sets the process's log identity. Call first thing in main; safe to call again. */
void log_init(const char *ident, enum log_target target, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error|warn|info|debug"; returns -1 for anything else. */
int log_level_parse(const char *s, enum log_level *out);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn and log_error append ": strerror(errno)"; the x variants do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only main loops call these: log and exit with the given status. */
void fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void fatalx(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

void log_vmsg(enum log_level level, int with_errno, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
