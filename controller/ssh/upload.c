/*
 * upload.c - putting the agent on a host that lacks this build: close the
 * bootstrap channel, then over SFTP make ~/.korch (0700) and write
 * ~/.korch/agent-<sha256> under a random temporary name, make it 0700 and
 * rename it into place.  After it boot.c starts the bootstrap again, which
 * hashes what it runs (and, under become, root's own copy of it), so
 * nothing written here is trusted because it is here.
 */
#include <stdio.h>
#include <string.h>

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/rand.h>

#include "err.h"
#include "ssh/agent_image.h"
#include "ssh/ssh-int.h"

#define SSH_UPLOAD_CHUNK	(256u * 1024)

static const char *
sftp_errmsg(LIBSSH2_SFTP *sftp)
{
	switch (sftp != NULL ? libssh2_sftp_last_error(sftp) : 0) {
	case LIBSSH2_FX_NO_SUCH_FILE:		return "no such file";
	case LIBSSH2_FX_PERMISSION_DENIED:	return "permission denied";
	case LIBSSH2_FX_FAILURE:		return "failure";
	case LIBSSH2_FX_FILE_ALREADY_EXISTS:	return "file exists";
	case LIBSSH2_FX_WRITE_PROTECT:		return "read-only file system";
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:	return "no space left";
	case LIBSSH2_FX_QUOTA_EXCEEDED:		return "quota exceeded";
	case LIBSSH2_FX_NO_SUCH_PATH:		return "no such path";
	case LIBSSH2_FX_NOT_A_DIRECTORY:	return "not a directory";
	default:				return "SFTP error";
	}
}

enum step
step_exec_close(struct ssh_conn *c)
{
	int r;

	r = libssh2_channel_close(c->chan);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	return conn_chan_free(c, SS_SFTP_INIT);
}

/* ---- SFTP --------------------------------------------------------------- */

/* Start SFTP and pick the temporary name the upload is written to. */
static enum step
sftp_init(struct ssh_conn *c)
{
	unsigned char rnd[8];

	c->sftp = libssh2_sftp_init(c->ssh);
	if (c->sftp == NULL) {
		if (libssh2_session_last_errno(c->ssh) ==
		    LIBSSH2_ERROR_EAGAIN)
			return STEP_WAIT_SSH;
		conn_fail(c, KORCH_ERR_SSH, "cannot start SFTP on %s to "
		    "upload the agent: %s (is the sftp subsystem "
		    "enabled in sshd_config?)", c->where,
		    ssh_errmsg(c->ssh));
		return STEP_STOP;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		conn_fail(c, KORCH_ERR_INTERNAL, "no randomness");
		return STEP_STOP;
	}
	snprintf(c->tmp_path, sizeof(c->tmp_path),
	    "%s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x", c->final_path,
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
	    rnd[7]);
	c->up_off = 0;
	conn_set_state(c, SS_SFTP_MKDIR);
	return STEP_NEXT;
}

static enum step
sftp_mkdir(struct ssh_conn *c)
{
	int r;

	r = libssh2_sftp_mkdir_ex(c->sftp, ".korch", 6, 0700);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	/* Already there is fine (OpenSSH says "failure" for it);
	 * anything really wrong shows up at open. */
	conn_set_state(c, SS_SFTP_OPEN);
	return STEP_NEXT;
}

static enum step
sftp_open(struct ssh_conn *c)
{
	c->sfh = libssh2_sftp_open_ex(c->sftp, c->tmp_path,
	    (unsigned)strlen(c->tmp_path), LIBSSH2_FXF_WRITE |
	    LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC | LIBSSH2_FXF_EXCL,
	    0700, LIBSSH2_SFTP_OPENFILE);
	if (c->sfh == NULL) {
		if (libssh2_session_last_errno(c->ssh) ==
		    LIBSSH2_ERROR_EAGAIN)
			return STEP_WAIT_SSH;
		conn_fail(c, KORCH_ERR_SYSTEM, "cannot create %s in the "
		    "home directory of %s on %s: %s", c->tmp_path,
		    c->user, c->where, sftp_errmsg(c->sftp));
		return STEP_STOP;
	}
	conn_set_state(c, SS_SFTP_WRITE);
	return STEP_NEXT;
}

static enum step
sftp_write(struct ssh_conn *c)
{
	size_t left;
	ssize_t n;

	while (c->up_off < c->img->len) {
		left = c->img->len - c->up_off;
		if (left > SSH_UPLOAD_CHUNK)
			left = SSH_UPLOAD_CHUNK;
		n = libssh2_sftp_write(c->sfh,
		    (const char *)c->img->data + c->up_off, left);
		if (n == LIBSSH2_ERROR_EAGAIN)
			return STEP_WAIT_SSH;
		if (n < 0) {
			conn_fail(c, KORCH_ERR_SYSTEM, "uploading the "
			    "agent to %s failed at byte %zu: %s",
			    c->where, c->up_off, sftp_errmsg(c->sftp));
			return STEP_STOP;
		}
		c->up_off += (size_t)n;
	}
	conn_set_state(c, SS_SFTP_CHMOD);
	return STEP_NEXT;
}

static enum step
sftp_chmod(struct ssh_conn *c)
{
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	int r;

	/* Mode 0700 whatever the server's umask did to open(). */
	memset(&attrs, 0, sizeof(attrs));
	attrs.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
	attrs.permissions = 0700;
	r = libssh2_sftp_fsetstat(c->sfh, &attrs);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	if (r != 0) {
		conn_fail(c, KORCH_ERR_SYSTEM, "cannot make the agent "
		    "on %s executable: %s", c->where,
		    sftp_errmsg(c->sftp));
		return STEP_STOP;
	}
	conn_set_state(c, SS_SFTP_CLOSE);
	return STEP_NEXT;
}

static enum step
sftp_close(struct ssh_conn *c)
{
	int r;

	r = libssh2_sftp_close_handle(c->sfh);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	c->sfh = NULL;
	if (r != 0) {
		conn_fail(c, KORCH_ERR_SYSTEM, "writing the agent to %s "
		    "failed on close: %s", c->where,
		    sftp_errmsg(c->sftp));
		return STEP_STOP;
	}
	conn_set_state(c, c->replace_target ? SS_SFTP_UNLINK :
	    SS_SFTP_RENAME);
	return STEP_NEXT;
}

/* Remove path, then go on to next whatever came of it: the step after
 * says what matters. */
static enum step
sftp_remove(struct ssh_conn *c, const char *path, enum ssh_state next)
{
	int r;

	r = libssh2_sftp_unlink_ex(c->sftp, path, (unsigned)strlen(path));
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	conn_set_state(c, next);
	return STEP_NEXT;
}

/* Into place in one step: a half-written agent never has the final name. */
static enum step
sftp_rename(struct ssh_conn *c)
{
	int r;

	r = libssh2_sftp_rename_ex(c->sftp, c->tmp_path,
	    (unsigned)strlen(c->tmp_path), c->final_path,
	    (unsigned)strlen(c->final_path),
	    LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC |
	    LIBSSH2_SFTP_RENAME_NATIVE);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	if (r != 0) {
		/* Most likely another run put the same build there
		 * first; the greeting will tell. */
		ssh_dbg(c, "rename %s -> %s: %s", c->tmp_path,
		    c->final_path, sftp_errmsg(c->sftp));
		c->rename_failed = 1;
		conn_set_state(c, SS_SFTP_CLEANUP);
	} else
		conn_set_state(c, SS_SFTP_SHUTDOWN);
	return STEP_NEXT;
}

static enum step
sftp_shutdown(struct ssh_conn *c)
{
	int r;

	r = libssh2_sftp_shutdown(c->sftp);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return STEP_WAIT_SSH;
	c->sftp = NULL;
	c->uploaded = 1;
	ssh_dbg(c, "uploaded %zu bytes to %s", c->img->len, c->final_path);
	conn_set_state(c, SS_EXEC_OPEN);
	return STEP_NEXT;
}

/* One SFTP step of the upload; states in the order they run. */
enum step
step_sftp(struct ssh_conn *c)
{
	switch (c->state) {
	case SS_SFTP_INIT:	return sftp_init(c);
	case SS_SFTP_MKDIR:	return sftp_mkdir(c);
	case SS_SFTP_OPEN:	return sftp_open(c);
	case SS_SFTP_WRITE:	return sftp_write(c);
	case SS_SFTP_CHMOD:	return sftp_chmod(c);
	case SS_SFTP_CLOSE:	return sftp_close(c);
	/* A damaged copy sits at the final name; SFTP v3 rename does
	 * not overwrite. */
	case SS_SFTP_UNLINK:
		return sftp_remove(c, c->final_path, SS_SFTP_RENAME);
	case SS_SFTP_RENAME:	return sftp_rename(c);
	/* The rename failed: drop our temporary copy. */
	case SS_SFTP_CLEANUP:
		return sftp_remove(c, c->tmp_path, SS_SFTP_SHUTDOWN);
	case SS_SFTP_SHUTDOWN:	return sftp_shutdown(c);
	default:
		conn_fail(c, KORCH_ERR_INTERNAL, "bad SFTP state");
		return STEP_STOP;
	}
}
