/*
 * fs.h - questions to the controller's file system that more than one
 * loader asks.  (Reading files and making directories: proto/fdio.h.)
 */
#ifndef KORCH_FS_H
#define KORCH_FS_H

/* Whether path names a directory (following links); 0 when it cannot be
 * stat()ed. */
int fs_is_dir(const char *path);

#endif
