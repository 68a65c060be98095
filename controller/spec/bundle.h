/*
 * bundle.h - the offline bundle: every binary a cluster needs, named and
 * pinned by sha256 in one manifest, so korch works in networks with no
 * internet (the runbooks pass binary bundles around by hand).
 *
 *   DIR/manifest.yaml:
 *     bundle: 1
 *     kubernetes_version: 1.8.15
 *     components:
 *       - { name: etcd, version: 3.4.23, arch: amd64, path: bin/etcd,
 *           sha256: <64 hex> }
 *     images:                      # optional: container images, each a
 *       - { name: pause, ref: "korch.local/pause:3.2",   # `docker save`
 *           path: images/pause.tar, sha256: <64 hex> }   # archive
 *     packages:                    # optional: distribution packages
 *       - { name: haproxy, version: 2.6.12-1+deb12u4,    # (.deb), installed
 *           path: debs/haproxy.deb, sha256: <64 hex> }   # in list order
 *
 * Nothing is ever pulled from a registry: a cluster's images travel in
 * the bundle and are loaded into each node's container runtime.
 *
 * A bundle may also be a .tar.gz of such a directory (the directory may be
 * the archive's top level or its only subdirectory); it is unpacked with
 * tar(1), run as an argv vector, into a private temporary directory that
 * bundle_free() removes.
 */
#ifndef KORCH_BUNDLE_H
#define KORCH_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "sha256hex.h"

struct diag;
struct vars;

enum bundle_kind {
	BUNDLE_BINARY,
	BUNDLE_IMAGE,
	BUNDLE_PACKAGE,
};

/* Read-only after bundle_load(). */
struct bundle_component {
	enum bundle_kind kind;
	char		*name;
	char		*version;
	char		*arch;
	char		*path;		/* absolute */
	char		*ref;		/* an image's reference, else NULL */
	char		 sha256[SHA256_HEX_SIZE];	/* as the manifest says */
	uint64_t	 size;		/* of the file on disk */
	unsigned	 line;		/* manifest line, for messages */
};

struct bundle {
	char			*dir;		/* absolute */
	char			*manifest;	/* DIR/manifest.yaml */
	char			*kubernetes_version;
	struct bundle_component	*comp;		/* binaries, images, packages */
	size_t			 ncomp;
	char			*tmpdir;	/* unpacked tarball, or NULL */
};

/*
 * Load and check the manifest of the bundle at path (a directory or a
 * .tar.gz): fields, duplicate names, paths inside the bundle, files
 * present.  Hashes are not computed (bundle_verify() does that).  Returns 0
 * and *out; KORCH_ERR_PARSE with every problem in d; KORCH_ERR_ALLOC.
 */
int bundle_load(const char *path, struct bundle **out, struct diag *d);
void bundle_free(struct bundle *b);

/* Hash every component and compare with the manifest; every mismatch goes
 * into d (naming the component, expected and actual sha256).  0 or
 * KORCH_ERR_HASH_MISMATCH; KORCH_ERR_SYSTEM when a file cannot be read. */
int bundle_verify(const struct bundle *b, struct diag *d);

/* The binary component named name (never an image), or NULL. */
const struct bundle_component *bundle_find(const struct bundle *b,
    const char *name);
/* The image named name, or NULL. */
const struct bundle_component *bundle_find_image(const struct bundle *b,
    const char *name);
/* The package named name, or NULL. */
const struct bundle_component *bundle_find_package(const struct bundle *b,
    const char *name);

/* Template variables bundle.<name>.sha256, .size, .version for every
 * binary ('-' in a name becomes '_': bundle.kube_apiserver.sha256);
 * bundle.image.<name>.sha256, .size, .ref for every image and
 * bundle.images, their names comma-joined (for a foreach);
 * bundle.package.<name>.sha256, .size, .version, .name (as the
 * distribution spells it) for every package and bundle.packages, in the
 * manifest's order (the order to install them); and
 * bundle.kubernetes_version.  0 or KORCH_ERR_ALLOC. */
int bundle_vars(const struct bundle *b, struct vars *v);

#endif
