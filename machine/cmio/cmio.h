/* SPDX-License-Identifier: MIT */
/* The cmio device's user ABI, as libcmt (machine-guest-tools) includes it from
 * <linux/cartesi/cmio.h>. Written for this project from the ABI's description: two
 * buffers (tx: guest to host, rx: host to guest), each {physical address, length};
 * SETUP returns both, YIELD passes one 64-bit request word to the host and returns
 * the host's answer in the same word. */
#ifndef STREAMABLE_TOKEN_CMIO_H
#define STREAMABLE_TOKEN_CMIO_H

#include <linux/ioctl.h>
#include <linux/types.h>

struct cmio_buffer {
	__u64 data;   /* physical address, also the address user space maps it at */
	__u64 length; /* bytes */
};

struct cmio_setup {
	struct cmio_buffer tx;
	struct cmio_buffer rx;
};

#define IOCTL_CMIO_SETUP _IOR(0xd3, 0, struct cmio_setup)
#define IOCTL_CMIO_YIELD _IOWR(0xd3, 1, __u64)

#endif
