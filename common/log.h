/* Logging: one line per event to stderr (journald adds time and unit), with
 * the process role as prefix.  die() is for the parent and workers only: they
 * exit on anything unexpected from a less trusted peer.  The broker never
 * calls it after start-up. */
#ifndef STRATA_LOG_H
#define STRATA_LOG_H

enum log_level { LOG_ERR_ = 0, LOG_WARN_ = 1, LOG_INFO_ = 2, LOG_DEBUG_ = 3 };

void log_init(const char *role, int level);
/* From now on this process logs nothing and die() only exits: for the
 * confined processes but the broker, whose stderr is closed and whose
 * policies allow neither getpid nor a write to fd 2. */
void log_off(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_err(...)   log_msg(LOG_ERR_, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN_, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO_, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG_, __VA_ARGS__)

#endif
