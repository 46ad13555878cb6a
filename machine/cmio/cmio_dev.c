// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/cmio for Debian's stock riscv64 kernel: the Cartesi machine's rollup I/O device,
 * built out of tree. Written for the Streamable Token project from the device's ABI:
 *  - the device tree has a node compatible "ctsi-cmio" whose children "tx_buffer" and
 *    "rx_buffer" each carry reg = <address length> (64-bit cells);
 *  - IOCTL_CMIO_SETUP copies both {address, length} pairs to user space;
 *  - mmap maps one buffer, chosen by the mapping's address and length equal to the
 *    buffer's (libcmt asks for each at its physical address), with remap_pfn_range;
 *  - IOCTL_CMIO_YIELD reads a 64-bit request word, passes it to the SBI's yield call
 *    (legacy extension 0x9, function 0, the word as its first argument) and writes the
 *    call's value back into the word;
 *  - one opener at a time.
 */
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/of.h>
#include <linux/of_address.h>
#include <linux/platform_device.h>
#include <linux/uaccess.h>
#include <asm/sbi.h>

#include "cmio.h"

#define SBI_EXT_CARTESI_YIELD 0x9

struct cmio_state {
	struct miscdevice misc;
	struct cmio_setup bufs;
	atomic_t open;
};

static struct cmio_state *cmio_of(struct file *file)
{
	return container_of(file->private_data, struct cmio_state, misc);
}

static int cmio_open(struct inode *inode, struct file *file)
{
	struct cmio_state *me = cmio_of(file);

	if (atomic_cmpxchg(&me->open, 0, 1) != 0)
		return -EBUSY;
	return 0;
}

static int cmio_release(struct inode *inode, struct file *file)
{
	atomic_set(&cmio_of(file)->open, 0);
	return 0;
}

static long cmio_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct cmio_state *me = cmio_of(file);
	void __user *uarg = (void __user *)arg;
	struct sbiret ret;
	__u64 word;

	switch (cmd) {
	case IOCTL_CMIO_SETUP:
		if (copy_to_user(uarg, &me->bufs, sizeof(me->bufs)))
			return -EFAULT;
		return 0;
	case IOCTL_CMIO_YIELD:
		if (copy_from_user(&word, uarg, sizeof(word)))
			return -EFAULT;
		ret = sbi_ecall(SBI_EXT_CARTESI_YIELD, 0, word, 0, 0, 0, 0, 0);
		if (ret.error)
			return -EIO;
		word = ret.value;
		if (copy_to_user(uarg, &word, sizeof(word)))
			return -EFAULT;
		return 0;
	default:
		return -ENOTTY;
	}
}

static int cmio_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct cmio_state *me = cmio_of(file);
	unsigned long size = vma->vm_end - vma->vm_start;
	const struct cmio_buffer *buf;

	if (vma->vm_pgoff != 0)
		return -EINVAL;
	if (vma->vm_start == me->bufs.tx.data && size == me->bufs.tx.length)
		buf = &me->bufs.tx;
	else if (vma->vm_start == me->bufs.rx.data && size == me->bufs.rx.length)
		buf = &me->bufs.rx;
	else
		return -EINVAL;
	return remap_pfn_range(vma, vma->vm_start, buf->data >> PAGE_SHIFT, size, vma->vm_page_prot);
}

static const struct file_operations cmio_fops = {
	.owner = THIS_MODULE,
	.open = cmio_open,
	.release = cmio_release,
	.unlocked_ioctl = cmio_ioctl,
	.mmap = cmio_mmap,
};

/* reg = <address length> of the child node `name`, read as two 64-bit cells */
static int cmio_read_buffer(struct device_node *parent, const char *name, struct cmio_buffer *out)
{
	struct device_node *child = of_get_child_by_name(parent, name);
	u64 reg[2];
	int rc;

	if (!child)
		return -ENODEV;
	rc = of_property_read_u64_array(child, "reg", reg, 2);
	of_node_put(child);
	if (rc)
		return rc;
	if (!reg[1] || (reg[0] | reg[1]) & ~PAGE_MASK)
		return -EINVAL;
	out->data = reg[0];
	out->length = reg[1];
	return 0;
}

static int cmio_probe(struct platform_device *pdev)
{
	struct cmio_state *me;
	int rc;

	me = devm_kzalloc(&pdev->dev, sizeof(*me), GFP_KERNEL);
	if (!me)
		return -ENOMEM;
	rc = cmio_read_buffer(pdev->dev.of_node, "tx_buffer", &me->bufs.tx);
	if (!rc)
		rc = cmio_read_buffer(pdev->dev.of_node, "rx_buffer", &me->bufs.rx);
	if (rc) {
		dev_err(&pdev->dev, "bad tx_buffer/rx_buffer nodes (%d)\n", rc);
		return rc;
	}
	atomic_set(&me->open, 0);
	me->misc.minor = MISC_DYNAMIC_MINOR;
	me->misc.name = "cmio";
	me->misc.fops = &cmio_fops;
	rc = misc_register(&me->misc);
	if (rc)
		return rc;
	platform_set_drvdata(pdev, me);
	dev_info(&pdev->dev, "tx %#llx+%#llx rx %#llx+%#llx\n", me->bufs.tx.data, me->bufs.tx.length,
		 me->bufs.rx.data, me->bufs.rx.length);
	return 0;
}

static void cmio_remove(struct platform_device *pdev)
{
	struct cmio_state *me = platform_get_drvdata(pdev);

	misc_deregister(&me->misc);
}

static const struct of_device_id cmio_match[] = {
	{ .compatible = "ctsi-cmio" },
	{}
};
MODULE_DEVICE_TABLE(of, cmio_match);

static struct platform_driver cmio_driver = {
	.probe = cmio_probe,
	.remove = cmio_remove,
	.driver = {
		.name = "streamable-token-cmio",
		.of_match_table = cmio_match,
	},
};
module_platform_driver(cmio_driver);

MODULE_DESCRIPTION("Cartesi machine cmio device (rollup I/O), out of tree");
MODULE_LICENSE("GPL");
