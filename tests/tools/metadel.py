#!/usr/bin/env python3
"""metadel.py METADIR NAME: deletes snapshot NAME's record from a stopped
daemon's LMDB store (its entries in the `snapshots` and `ids` databases,
broker/meta_store.h), as damage no strata call can make: the fsck test's
way to a snapshot whose parent has no record.  Short names only (keyed by
the name itself).  Prints the record's id."""
import ctypes
import struct
import sys


class Val(ctypes.Structure):
    _fields_ = [("mv_size", ctypes.c_size_t), ("mv_data", ctypes.c_void_p)]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    metadir, name = sys.argv[1].encode(), sys.argv[2].encode()
    if len(name) > 479:
        sys.exit("metadel.py: long names are keyed by a hash; not supported")
    lib = ctypes.CDLL("liblmdb.so.0")
    env, txn = ctypes.c_void_p(), ctypes.c_void_p()
    snaps, ids = ctypes.c_uint(), ctypes.c_uint()

    def ok(rc, what):
        if rc:
            lib.mdb_strerror.restype = ctypes.c_char_p
            sys.exit("metadel.py: %s: %s" % (what, lib.mdb_strerror(rc).decode()))

    ok(lib.mdb_env_create(ctypes.byref(env)), "env_create")
    ok(lib.mdb_env_set_maxdbs(env, 6), "set_maxdbs")
    ok(lib.mdb_env_open(env, metadir, 0x200000, 0o600), "env_open")  # MDB_NOTLS
    ok(lib.mdb_txn_begin(env, None, 0, ctypes.byref(txn)), "txn_begin")
    ok(lib.mdb_dbi_open(txn, b"snapshots", 0, ctypes.byref(snaps)), "open snapshots")
    ok(lib.mdb_dbi_open(txn, b"ids", 0, ctypes.byref(ids)), "open ids")
    buf = ctypes.create_string_buffer(name, len(name))
    key, val = Val(len(name), ctypes.cast(buf, ctypes.c_void_p)), Val()
    ok(lib.mdb_get(txn, snaps, ctypes.byref(key), ctypes.byref(val)), "get " + sys.argv[2])
    rec = ctypes.string_at(val.mv_data, val.mv_size)
    # strata.v1.SnapshotRecord: field 1 (id) is the first, a varint.
    if not rec or rec[0] != 0x08:
        sys.exit("metadel.py: the record does not start with its id")
    snap_id, shift, i = 0, 0, 1
    while True:
        snap_id |= (rec[i] & 0x7F) << shift
        shift += 7
        i += 1
        if not rec[i - 1] & 0x80:
            break
    ok(lib.mdb_del(txn, snaps, ctypes.byref(key), None), "delete record")
    be = ctypes.create_string_buffer(struct.pack(">Q", snap_id), 8)
    idkey = Val(8, ctypes.cast(be, ctypes.c_void_p))
    ok(lib.mdb_del(txn, ids, ctypes.byref(idkey), None), "delete id")
    ok(lib.mdb_txn_commit(txn), "commit")
    lib.mdb_env_close(env)
    print(snap_id)


main()
