/* Logging: one line per event to stderr, with a level, the process role and
 * its pid.  Three forms (log.c):
 *   text:     2026-12-05T07:01:02.345Z stratad-broker[42]: info: MSG k=v...
 *   journal:  <6>stratad-broker[42]: info: MSG k=v...   (stderr is systemd's
 *             journal stream, JOURNAL_STREAM: it reads the priority prefix
 *             and adds the time)
 *   json:     {"time":"...","level":"info","role":"stratad-broker","pid":42,
 *             "msg":"MSG","k":"v",...}   (log_format = json; behind the
 *             prefix under the journal)
 * Control characters never reach a line as they are, so that no message (a
 * client's key) can forge another line.  die() is for the parent and
 * workers only: they exit on anything unexpected from a less trusted peer.
 * The broker never calls it after start-up. */
#ifndef STRATA_LOG_H
#define STRATA_LOG_H

#include <stddef.h>

enum log_level { LOG_ERR_ = 0, LOG_WARN_ = 1, LOG_INFO_ = 2, LOG_DEBUG_ = 3 };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

/* Also looks whether stderr is the journal (before any confinement: it
 * reads the environment and fstats fd 2). */
void log_init(const char *role, int level);
void log_set_format(int format);
/* From now on this process logs nothing and die() only exits: for the
 * confined processes but the broker, whose stderr is closed and whose
 * policies allow neither getpid nor a write to fd 2. */
void log_off(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A structured field of an event: a key of the JSON object (never time,
 * level, role, pid or msg), or ` key=value` after a text line's message. */
struct log_field {
	const char *key;
	const char *value;
};
void log_fields(int level, const struct log_field *fields, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_err(...)   log_msg(LOG_ERR_, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN_, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO_, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG_, __VA_ARGS__)

#endif
