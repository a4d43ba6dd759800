/* Conversions between containerd's messages and the metadata types. */
#ifndef STRATA_CONVERT_H
#define STRATA_CONVERT_H

#include "meta.h"
#include "mounts.h"
#include "services.h"

/* Every generated map<string,string> entry has this layout. */
struct pb_label_entry {
	ProtobufCMessage base;
	char *key;
	char *value;
};

/* Copies a request's label map (entries of any map<string,string> type). */
struct label *labels_from_entries(void *const *entries, size_t n);
void labels_free(struct label *l, size_t n);

/* An Info message that owns its members; free with info_msg_free(). */
SnapInfoMsg *info_msg_new(const struct snap_info *s);
void info_msg_free(SnapInfoMsg *m);

/* Mount messages for mount specs; free with mount_msgs_free(). */
MountMsg **mount_msgs_new(const struct mount_spec *m, size_t n);
void mount_msgs_free(MountMsg **m, size_t n);

#endif
