package org.anode.backend.nd4j;

import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_set_data_handle;

import java.util.ArrayDeque;
import java.util.IdentityHashMap;
import java.util.Map;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.javacpp.Pointer;

/**
 * oneDNN memory objects (a descriptor and a data pointer, what a primitive's arguments are) for
 * {@link OneDnn#execute}: those of a descriptor that {@link OneDnn#desc} keeps are reused, pointed
 * at the next call's data with {@code dnnl_memory_set_data_handle}, instead of created and
 * destroyed per call. Why: creating one costs a native allocation inside oneDNN, 1.8% of an
 * ODE-ResNet step's training thread when every call made its own (docs/fused-kernels.md).
 * Thread-safe: an object is used by one call at a time, taken here before it and given back after
 * it.
 */
final class OneDnnMemoryObjects {
  private OneDnnMemoryObjects() {}

  /** Objects kept per descriptor when not in use, at most. */
  static final int IDLE_PER_DESC = 8;

  /** The descriptors whose objects are reused (those {@link OneDnn#desc} keeps), by identity. */
  private static final Map<dnnl_memory_desc_t, ArrayDeque<Reusable>> IDLE = new IdentityHashMap<>();

  /** An object that goes back to {@link #IDLE} after use, with the descriptor it was made of. */
  private static final class Reusable extends dnnl_memory {
    final dnnl_memory_desc_t desc;

    Reusable(dnnl_memory_desc_t desc) {
      this.desc = desc;
    }
  }

  /** Marks {@code md} as kept for the process: its objects may be reused. */
  static synchronized void reusable(dnnl_memory_desc_t md) {
    IDLE.putIfAbsent(md, new ArrayDeque<>());
  }

  /**
   * A memory object of {@code md} over {@code data}, for one call; give it back with {@link
   * #release}.
   */
  static dnnl_memory over(dnnl_memory_desc_t md, Pointer data) {
    boolean reusable;
    Reusable idle;
    synchronized (OneDnnMemoryObjects.class) {
      ArrayDeque<Reusable> kept = IDLE.get(md);
      reusable = kept != null;
      idle = reusable ? kept.poll() : null;
    }
    if (idle != null) {
      OneDnn.check(dnnl_memory_set_data_handle(idle, data), "dnnl_memory_set_data_handle");
      return idle;
    }
    dnnl_memory m = reusable ? new Reusable(md) : new dnnl_memory();
    OneDnn.check(dnnl_memory_create(m, md, OneDnn.engine(), data), "dnnl_memory_create");
    return m;
  }

  /** Takes back an object from {@link #over} after its call: kept for reuse, or destroyed. */
  static void release(dnnl_memory m) {
    if (m instanceof Reusable r) {
      synchronized (OneDnnMemoryObjects.class) {
        ArrayDeque<Reusable> kept = IDLE.get(r.desc);
        if (kept.size() < IDLE_PER_DESC) {
          kept.push(r);
          return;
        }
      }
    }
    dnnl_memory_destroy(m);
  }
}
