/* The client side of mount fds over a connection of the CLI's own (struct
 * client): what `strata mount` and `umount` call, and what the library's
 * strata_mount_fd() (include/strata/mountfd.h, which says what a mount fd
 * is and grants) wraps. */
#ifndef STRATA_CLIENT_MOUNTFD_H
#define STRATA_CLIENT_MOUNTFD_H

#include "client.h"
#include "../include/strata/mountfd.h"

/* strata_mount_fd(), strata_mount_release() and strata_idmap_parse() on a
 * struct client, with the errors as struct err. */
int mountfd_get(struct client *c, const char *key, const struct strata_mount_opts *o,
		struct strata_mount_info *info, struct err *e);
int mountfd_release(struct client *c, const char *attach_path, char **key, struct err *e);
int mountfd_idmap_parse(const char *spec, struct strata_idmap *m, struct err *e);

#endif
