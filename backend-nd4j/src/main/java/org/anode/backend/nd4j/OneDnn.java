package org.anode.backend.nd4j;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_FROM;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SCRATCHPAD;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_TO;
import static org.bytedeco.dnnl.global.dnnl.dnnl_aBcd16b;
import static org.bytedeco.dnnl.global.dnnl.dnnl_aBcd8b;
import static org.bytedeco.dnnl.global.dnnl.dnnl_abcd;
import static org.bytedeco.dnnl.global.dnnl.dnnl_acdb;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx2;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu_isa_avx512_core;
import static org.bytedeco.dnnl.global.dnnl.dnnl_engine_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_get_effective_cpu_isa;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_get_size;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_init_by_strides;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_init_by_tag;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_set_scratchpad_mode;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_query_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_execute;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_get_primitive_desc;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_scratchpad_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_reorder_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_scratchpad_mode_user;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_default_flags;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_wait;
import static org.bytedeco.dnnl.global.dnnl.dnnl_success;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.anode.api.Shape;
import org.bytedeco.dnnl.const_dnnl_op_desc_t;
import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * oneDNN 2.7 called directly (JavaCPP's {@code dnnl} presets): one CPU engine and stream for the
 * process, memory objects over ND4J arrays without copies, layout reorders, and the status checks.
 *
 * <p>Why not through libnd4j: its {@code conv2d}/{@code conv2d_bp} take NCHW or NHWC arrays and
 * reorder them to oneDNN's blocked layouts and back around every call (~12% of the bench's step),
 * and choose the algorithm themselves. Called directly, activations stay in the blocked layout
 * through an ODE block and oneDNN may pick Winograd. Why 2.7 and not 3.x: oneDNN 3 dropped its
 * float32 Winograd kernels, which take about half the time of the direct ones for 3×3 convolutions
 * on AVX-512 (docs/fused-kernels.md).
 *
 * <p>The blocked layout is the one oneDNN's kernels for this CPU read ({@link #blockedLayout}):
 * {@code nChw16c} with AVX-512 (one 512-bit register of channels), {@code nChw8c} with AVX2 only;
 * given another, oneDNN would serve it with its reference kernels. The system property {@value
 * #BLOCK_PROPERTY} ({@code 8} or {@code 16}) overrides the choice (tests run both anywhere). The
 * property {@value #PROPERTY}{@code =false} turns this path off; it is also off when the native
 * library cannot be loaded or the CPU lacks AVX2, and every convolution then goes to libnd4j.
 */
final class OneDnn {
  static final String PROPERTY = "anode.nd4j.onednn";

  /** Overrides the channels per block of the blocked layout: {@code 8} or {@code 16}. */
  static final String BLOCK_PROPERTY = "anode.nd4j.onednn.block";

  private static final System.Logger LOG = System.getLogger(OneDnn.class.getName());

  private static final class Runtime {
    static final dnnl_engine ENGINE;
    static final dnnl_stream STREAM;
    static final dnnl_primitive_attr USER_SCRATCHPAD;
    static final String FAILURE;
    static final StorageLayout NATIVE_BLOCKED;

    static {
      dnnl_engine engine = null;
      dnnl_stream stream = null;
      dnnl_primitive_attr userScratchpad = null;
      String failure = null;
      StorageLayout blocked = StorageLayout.BLOCKED16;
      try {
        engine = new dnnl_engine();
        check(dnnl_engine_create(engine, dnnl_cpu, 0), "dnnl_engine_create(cpu, 0)");
        stream = new dnnl_stream();
        check(dnnl_stream_create(stream, engine, dnnl_stream_default_flags), "dnnl_stream_create");
        userScratchpad = new dnnl_primitive_attr();
        check(dnnl_primitive_attr_create(userScratchpad), "dnnl_primitive_attr_create");
        check(
            dnnl_primitive_attr_set_scratchpad_mode(userScratchpad, dnnl_scratchpad_mode_user),
            "dnnl_primitive_attr_set_scratchpad_mode(user)");
        int isa = dnnl_get_effective_cpu_isa();
        if ((isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core) {
          blocked = StorageLayout.BLOCKED16;
        } else if ((isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2) {
          blocked = StorageLayout.BLOCKED8;
        } else {
          // Below AVX2, oneDNN's blocked kernels are SSE4.1's: libnd4j's route is no slower.
          failure = "the CPU lacks AVX2 (oneDNN's effective ISA is " + isa + ")";
        }
      } catch (RuntimeException | LinkageError e) {
        failure = e.toString();
      }
      if (failure != null) {
        LOG.log(
            System.Logger.Level.INFO,
            "oneDNN not called directly, convolutions run on libnd4j's kernels: " + failure);
      }
      ENGINE = failure == null ? engine : null;
      STREAM = failure == null ? stream : null;
      USER_SCRATCHPAD = failure == null ? userScratchpad : null;
      FAILURE = failure;
      NATIVE_BLOCKED = blocked;
    }
  }

  private OneDnn() {}

  /** Whether convolutions may call oneDNN directly: not switched off, and {@link #available()}. */
  static boolean enabled() {
    return !"false".equalsIgnoreCase(System.getProperty(PROPERTY)) && available();
  }

  /** Whether the library loaded and the CPU has AVX2. */
  static boolean available() {
    return Runtime.FAILURE == null;
  }

  /** Why {@link #available()} is false, or null. */
  static String unavailable() {
    return Runtime.FAILURE;
  }

  /**
   * The blocked layout convolutions write: {@link #BLOCK_PROPERTY} when set, else the CPU's own
   * ({@code nChw16c} with AVX-512, {@code nChw8c} with AVX2).
   */
  static StorageLayout blockedLayout() {
    String block = System.getProperty(BLOCK_PROPERTY);
    if (block == null || block.isBlank()) {
      return nativeBlockedLayout();
    }
    return switch (block.trim()) {
      case "8" -> StorageLayout.BLOCKED8;
      case "16" -> StorageLayout.BLOCKED16;
      default ->
          throw new IllegalArgumentException(
              "nd4j: -D" + BLOCK_PROPERTY + "=" + block + " is not a block size: use 8 or 16");
    };
  }

  /**
   * The blocked layout of this CPU's kernels: {@code nChw16c} with AVX-512, else {@code nChw8c}.
   */
  static StorageLayout nativeBlockedLayout() {
    return Runtime.NATIVE_BLOCKED;
  }

  static dnnl_engine engine() {
    return Runtime.ENGINE;
  }

  static void check(int status, String call) {
    if (status != dnnl_success) {
      throw new IllegalStateException("oneDNN: " + call + " failed with status " + status);
    }
  }

  /**
   * Descriptors made so far, by dimensions and strides or tag: read-only once made (oneDNN copies
   * them into what it creates from them), and each costs a native allocation and a deallocator
   * registration (1% of an ODE-ResNet step when made per call; docs/fused-kernels.md).
   */
  private record DescKey(java.util.List<Long> dims, java.util.List<Long> strides, int tag) {
    static DescKey of(long[] dims, long[] strides, int tag) {
      return new DescKey(
          java.util.Arrays.stream(dims).boxed().toList(),
          strides == null ? null : java.util.Arrays.stream(strides).boxed().toList(),
          tag);
    }
  }

  /** At most this many descriptors are kept: a training run uses a few dozen. */
  private static final int DESC_LIMIT = 4096;

  private static final Map<DescKey, dnnl_memory_desc_t> DESCS = new ConcurrentHashMap<>();

  /** A float32 memory descriptor of {@code dims} laid out with {@code strides} (in elements). */
  static dnnl_memory_desc_t desc(long[] dims, long[] strides) {
    return cached(
        DescKey.of(dims, strides, 0),
        () -> {
          dnnl_memory_desc_t md = new dnnl_memory_desc_t();
          check(
              dnnl_memory_desc_init_by_strides(md, dims.length, dims, dnnl_f32, strides),
              "dnnl_memory_desc_init_by_strides");
          return md;
        });
  }

  /** A float32 memory descriptor of {@code dims} with a oneDNN format tag. */
  static dnnl_memory_desc_t desc(long[] dims, int tag) {
    return cached(
        DescKey.of(dims, null, tag),
        () -> {
          dnnl_memory_desc_t md = new dnnl_memory_desc_t();
          check(
              dnnl_memory_desc_init_by_tag(md, dims.length, dims, dnnl_f32, tag),
              "dnnl_memory_desc_init_by_tag(" + tag + ")");
          return md;
        });
  }

  private static dnnl_memory_desc_t cached(
      DescKey key, java.util.function.Supplier<dnnl_memory_desc_t> make) {
    dnnl_memory_desc_t md = DESCS.get(key);
    if (md != null) {
      return md;
    }
    md = make.get();
    if (DESCS.size() < DESC_LIMIT) {
      dnnl_memory_desc_t earlier = DESCS.putIfAbsent(key, md);
      if (earlier != null) {
        return earlier;
      }
      OneDnnMemoryObjects.reusable(md);
    }
    return md;
  }

  /** The descriptor of an NCHW tensor of {@code nchw} stored in {@code layout}. */
  static dnnl_memory_desc_t desc(Shape nchw, StorageLayout layout) {
    int tag =
        switch (layout) {
          case NCHW -> dnnl_abcd;
          case NHWC -> dnnl_acdb;
          case BLOCKED8 -> dnnl_aBcd8b;
          case BLOCKED16 -> dnnl_aBcd16b;
        };
    return desc(nchw.dimsAsLong(), tag);
  }

  private record ReorderKey(Shape nchw, StorageLayout from, StorageLayout to) {}

  private static final Map<ReorderKey, dnnl_primitive> REORDERS = new ConcurrentHashMap<>();

  /**
   * Copies the storage {@code from} of an NCHW tensor of {@code nchw} in layout {@code source} to
   * {@code to} in layout {@code target} by oneDNN's reorder (cached per shape and pair of layouts).
   */
  static void reorder(
      StorageLayout source, INDArray from, StorageLayout target, INDArray to, Shape nchw) {
    dnnl_primitive r =
        REORDERS.computeIfAbsent(
            new ReorderKey(nchw, source, target),
            k -> reorderPrimitive(desc(nchw, source), desc(nchw, target)));
    execute(
        r,
        new int[] {DNNL_ARG_FROM, DNNL_ARG_TO},
        new dnnl_memory[] {
          memory(desc(nchw, source), address(from)), memory(desc(nchw, target), address(to))
        },
        "reorder " + nchw + " " + source + " -> " + target);
  }

  /**
   * The attributes every primitive here is made with: scratchpad mode {@code user}, so that each
   * {@link #execute} hands the primitive scratch memory of its own.
   *
   * <p>Why: in oneDNN 2.7's default mode a primitive uses a "global" scratchpad that is
   * thread-local to the thread that created the primitive; executed on another thread, it reads
   * that thread's scratchpad, which may be absent (a null dereference) or smaller than it needs.
   * Primitives here are cached per shape and shared by every thread of the process, such as two
   * Spark replicas in one JVM: two replicas running ODE-ResNet18's convolutions crashed the JVM
   * with SIGSEGV at address 0 inside a forward convolution (docs/crash-analysis.md). oneDNN's
   * documentation asks for the user mode when primitives are shared between threads.
   */
  static dnnl_primitive_attr attributes() {
    return Runtime.USER_SCRATCHPAD;
  }

  /**
   * The primitive descriptor of the operation {@code op} (a convolution, batch-normalization or
   * eltwise descriptor) with the forward pass's descriptor as {@code hint} for a backward one (else
   * null), made with {@link #attributes}.
   */
  static dnnl_primitive_desc primitiveDesc(Pointer op, dnnl_primitive_desc hint, String what) {
    OneDnnThreads.onThisThread();
    dnnl_primitive_desc pd = new dnnl_primitive_desc();
    check(
        dnnl_primitive_desc_create(pd, new const_dnnl_op_desc_t(op), attributes(), engine(), hint),
        "dnnl_primitive_desc_create(" + what + ")");
    return pd;
  }

  /** The primitive of {@code pd}. */
  static dnnl_primitive primitive(dnnl_primitive_desc pd, String what) {
    dnnl_primitive p = new dnnl_primitive();
    check(dnnl_primitive_create(p, pd), "dnnl_primitive_create(" + what + ")");
    return p;
  }

  /** A reorder primitive from {@code from} to {@code to}. */
  static dnnl_primitive reorderPrimitive(dnnl_memory_desc_t from, dnnl_memory_desc_t to) {
    OneDnnThreads.onThisThread();
    dnnl_primitive_desc rpd = new dnnl_primitive_desc();
    check(
        dnnl_reorder_primitive_desc_create(rpd, from, engine(), to, engine(), attributes()),
        "dnnl_reorder_primitive_desc_create");
    return primitive(rpd, "reorder");
  }

  /**
   * The raw address of an array's first element, which must be {@value
   * AlignedMemory#ALIGNMENT}-byte aligned: oneDNN's kernels may store to it with instructions that
   * fault otherwise ({@link AlignedMemory}). Checked here, where every array becomes a pointer for
   * oneDNN, so that an unaligned one is an exception naming it rather than a crash of the JVM.
   */
  static Pointer address(INDArray a) {
    long address = a.data().addressPointer().address() + a.offset() * a.dataType().width();
    if (!AlignedMemory.aligned(address)) {
      throw new IllegalStateException(
          "oneDNN: the storage of "
              + a.shapeInfoToString()
              + " starts at 0x"
              + Long.toHexString(address)
              + ", not on a "
              + AlignedMemory.ALIGNMENT
              + "-byte boundary (allocate it with Nd4jMemory, whose blocks are aligned)");
    }
    return new Address(address);
  }

  /**
   * A memory object over {@code storage}, the C-ordered array that holds an NCHW tensor of {@code
   * nchw} in {@code layout} (checked: anything else would be read as garbage).
   */
  static dnnl_memory stored(INDArray storage, Shape nchw, StorageLayout layout) {
    Shape expected = layout.storageShape(nchw);
    if (!java.util.Arrays.equals(storage.shape(), expected.dimsAsLong())
        || storage.ordering() != 'c'
        || storage.isView()) {
      throw new IllegalStateException(
          "oneDNN: "
              + layout
              + " storage of "
              + nchw
              + " must be a C-ordered "
              + expected
              + " array, got "
              + storage.shapeInfoToString());
    }
    return memory(desc(nchw, layout), address(storage));
  }

  /**
   * A memory object over a plain {@code [length]} array (checked), such as a per-channel vector.
   */
  static dnnl_memory vector(INDArray a, int length) {
    if (a.length() != length || a.isView()) {
      throw new IllegalStateException(
          "oneDNN: " + a.shapeInfoToString() + " must be a plain [" + length + "] array");
    }
    return memory(desc(new long[] {length}, new long[] {1}), address(a));
  }

  /**
   * A memory object of {@code md} over memory someone else owns (it is not freed here), for one
   * {@link #execute}, which gives it back ({@link OneDnnMemoryObjects}).
   */
  static dnnl_memory memory(dnnl_memory_desc_t md, Pointer data) {
    return OneDnnMemoryObjects.over(md, data);
  }

  /**
   * Runs {@code primitive} on {@code (arg id, memory)} pairs and waits, then destroys the memory
   * objects (not their data). Serialized: one stream for the process.
   */
  static void execute(dnnl_primitive primitive, int[] ids, dnnl_memory[] memories, String what) {
    OneDnnThreads.onThisThread();
    Scratchpad scratchpad = scratchpad(primitive);
    int n = ids.length + (scratchpad.bytes() > 0 ? 1 : 0);
    try (dnnl_exec_arg_t args = new dnnl_exec_arg_t(n)) {
      for (int i = 0; i < ids.length; i++) {
        args.position(i).arg(ids[i]).memory(memories[i]);
      }
      synchronized (OneDnn.class) {
        dnnl_memory scratch = null;
        if (scratchpad.bytes() > 0) {
          scratch =
              OneDnnMemoryObjects.over(
                  scratchpad.md(), SharedScratchpad.atLeast(scratchpad.bytes()));
          args.position(ids.length).arg(DNNL_ARG_SCRATCHPAD).memory(scratch);
        }
        args.position(0);
        try {
          check(dnnl_primitive_execute(primitive, Runtime.STREAM, n, args), what);
          check(dnnl_stream_wait(Runtime.STREAM), "dnnl_stream_wait");
        } finally {
          if (scratch != null) {
            OneDnnMemoryObjects.release(scratch);
          }
        }
      }
    } finally {
      for (dnnl_memory m : memories) {
        OneDnnMemoryObjects.release(m);
      }
    }
  }

  /**
   * The scratch memory every execution is given ({@link #attributes}): one buffer, since {@link
   * #execute} runs one primitive at a time, grown to the largest scratchpad asked for so far,
   * 64-byte aligned. Allocated with {@code malloc} outside JavaCPP's byte count, as oneDNN's own
   * scratchpad was (a Winograd convolution of ODE-ResNet18 at batch 16 asks for ~86 MB). Guarded by
   * {@code OneDnn.class}.
   */
  private static final class SharedScratchpad {
    private static Pointer raw;
    private static long capacity;

    static Pointer atLeast(long bytes) {
      if (bytes > capacity) {
        if (raw != null) {
          Pointer.free(raw);
        }
        raw = Pointer.malloc(bytes + AlignedMemory.ALIGNMENT);
        if (raw == null || raw.isNull()) {
          raw = null;
          capacity = 0;
          throw new OutOfMemoryError("oneDNN: scratchpad of " + bytes + " bytes");
        }
        capacity = bytes;
      }
      return new Address(AlignedMemory.alignUp(raw.address()));
    }
  }

  /**
   * A primitive's scratchpad: its descriptor (inside the primitive's own descriptor, which lives as
   * long as the primitive) and size in bytes, 0 for none.
   */
  private record Scratchpad(dnnl_memory_desc_t md, long bytes) {}

  /**
   * The scratchpad {@code primitive} asks for, queried at each execution (three native calls): not
   * cached by the primitive's address, which a primitive made for one call and destroyed after
   * ({@link OneDnnSum}) hands on to the next one allocated.
   */
  private static Scratchpad scratchpad(dnnl_primitive primitive) {
    dnnl_primitive_desc pd = new dnnl_primitive_desc();
    check(dnnl_primitive_get_primitive_desc(primitive, pd), "dnnl_primitive_get_primitive_desc");
    dnnl_memory_desc_t md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    return new Scratchpad(md, md == null || md.isNull() ? 0 : dnnl_memory_desc_get_size(md));
  }

  /** A pointer to {@code address}, in memory that someone else owns. */
  static Pointer at(long address) {
    return new Address(address);
  }

  /** A pointer to a raw address, for memory that ND4J or JavaCPP owns. */
  private static final class Address extends Pointer {
    Address(long address) {
      this.address = address;
    }
  }
}
