"""Data parallelism over several devices, through JAX's sharding.

A batch is split along its batch axis over a one-dimensional :class:`jax.sharding.Mesh`
of the devices, and the parameters are replicated on every device; XLA compiles the
step for the sharded inputs and inserts the reduction of the gradients. Nothing here
schedules devices itself: JAX does.

The batch axis of each input comes from an explicit ``batch_axes`` mapping (source name
to axis, or None for an input to replicate), else from the data stream's Fuel-style
``axis_labels`` (the position of ``'batch'``). A batch whose size is not a multiple of
the number of devices is refused with an error that says so (pad the data or drop the
remainder: :class:`~blocks.datasets.schemes.SequentialScheme` gives every batch the same
size when the number of examples is a multiple of it).

On a CPU, JAX shows one device unless told otherwise: start Python with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` in the environment to split the
cores into 4 devices (useful to test; not faster).

>>> batch_axes_from_labels({'features': ('batch', 'feature'),
...                         'targets': ('time', 'batch')})
{'features': 0, 'targets': 1}
"""

import numpy as np

__all__ = ["BatchSharding", "batch_axes_from_labels", "resolve_devices"]


def resolve_devices(devices):
    """The list of JAX devices that `devices` names: a count (the first `devices` of
    :func:`jax.devices`) or a list of :class:`jax.Device`."""
    import jax

    available = jax.devices()
    if isinstance(devices, int | np.integer):
        if devices < 1:
            raise ValueError(f"devices: expected a positive number of devices, got {devices}")
        if devices > len(available):
            raise ValueError(
                f"devices={devices}: JAX sees only {len(available)} device(s) "
                f"({available[0].platform}); on a CPU, set "
                f"XLA_FLAGS=--xla_force_host_platform_device_count={devices} in the "
                f"environment before starting Python")
        return list(available[:devices])
    devices = list(devices)
    if not devices or not all(isinstance(device, jax.Device) for device in devices):
        raise TypeError(
            f"devices: expected a number of devices or a list of jax.Device, got {devices!r}")
    return devices


def batch_axes_from_labels(axis_labels):
    """The batch axis of each source from Fuel-style axis labels (None if unlabelled)."""
    return {name: (list(labels).index("batch") if labels and "batch" in labels else None)
            for name, labels in (axis_labels or {}).items()}


class BatchSharding:
    """How the inputs of a compiled step are placed on several devices.

    Parameters
    ----------
    devices : int or list of jax.Device
    batch_axes : dict, optional
        Input name to the axis split over the devices (None: replicate the input).
        Names missing here are looked up in `axis_labels`.
    axis_labels : dict, optional
        Fuel-style axis labels of the data stream.
    """

    def __init__(self, devices, batch_axes=None, axis_labels=None):
        from jax.sharding import Mesh

        self.devices = resolve_devices(devices)
        self.mesh = Mesh(np.array(self.devices), ("batch",))
        self.batch_axes = dict(batch_axes_from_labels(axis_labels))
        self.batch_axes.update(batch_axes or {})

    def __getstate__(self):
        # Devices belong to a process; a pickled sharding keeps their number.
        return {"devices": len(self.devices), "batch_axes": self.batch_axes}

    def __setstate__(self, state):
        self.__init__(state["devices"], state["batch_axes"])

    def replicated(self, value):
        """`value` copied to every device."""
        import jax
        from jax.sharding import NamedSharding, PartitionSpec

        return jax.device_put(value, NamedSharding(self.mesh, PartitionSpec()))

    def split(self, name, value):
        """The input `name` split along its batch axis over the devices."""
        import jax
        from jax.sharding import NamedSharding, PartitionSpec

        value = np.asarray(value)
        if value.ndim == 0:
            return self.replicated(value)
        if name not in self.batch_axes:
            raise ValueError(
                f"data parallelism: no batch axis is known for the input {name!r}; give "
                f"batch_axes={{{name!r}: AXIS}} (or None to copy it to every device), or "
                f"a data stream whose axis_labels name a 'batch' axis")
        axis = self.batch_axes[name]
        if axis is None:
            return self.replicated(value)
        size, count = value.shape[axis], len(self.devices)
        if size % count:
            raise ValueError(
                f"data parallelism: the batch of {name!r} has {size} examples along axis "
                f"{axis}, which does not split evenly over {count} devices; use batches "
                f"of a multiple of {count} examples")
        spec = [None] * value.ndim
        spec[axis] = "batch"
        return jax.device_put(value, NamedSharding(self.mesh, PartitionSpec(*spec)))
