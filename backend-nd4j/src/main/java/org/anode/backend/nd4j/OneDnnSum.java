package org.anode.backend.nd4j;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_MULTIPLE_SRC;
import static org.bytedeco.dnnl.global.dnnl.dnnl_a;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_init_by_tag;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_sum_primitive_desc_create;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.anode.api.DType;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A solver's linear combination {@code z + Σ cᵢ·kᵢ} in one pass over memory, on oneDNN's sum
 * primitive ({@code dst = Σ sⱼ·srcⱼ}, float32): each value of every operand is read once and the
 * result written once. libnd4j's route takes two passes per term (the scaled term into the result,
 * then the running sum added to it), so an Euler step reads and writes the state's size five times
 * instead of three, and RK4's four terms sixteen times instead of six.
 *
 * <p>A tensor times a scalar is the same primitive with one source ({@link #scale}).
 *
 * <p>The operands are read as flat vectors, so any storage layout serves as long as all of them
 * share it. oneDNN's sum accumulates in float32 in the operands' order ({@code ((s₀·z + s₁·k₁) +
 * s₂·k₂) + …}, possibly fused multiply-adds), so a result may differ from the composition's by a
 * rounding per term: within the conformance suite's float32 bound.
 *
 * <p>The scales are part of a oneDNN sum primitive. Primitives are kept for the first {@value
 * #CACHED} combinations of length and coefficients (a fixed-step solver has a handful); past that,
 * as for an adaptive solver whose step sizes keep changing, one is made for the call and destroyed
 * after it (a sum primitive is not JIT-compiled; making one costs microseconds).
 */
final class OneDnnSum {
  /** How many (length, coefficients) combinations keep their primitive. */
  static final int CACHED = 256;

  private record Key(long length, float[] scales) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Key k && k.length == length && Arrays.equals(k.scales, scales);
    }

    @Override
    public int hashCode() {
      return Long.hashCode(length) * 31 + Arrays.hashCode(scales);
    }
  }

  private static final Map<Key, dnnl_primitive> CACHE = new ConcurrentHashMap<>();

  private OneDnnSum() {}

  /**
   * Whether this class serves {@code base + Σ cᵢ·termsᵢ} into {@code out}: oneDNN enabled, every
   * array float32 C-ordered storage (not a view) of the same length.
   */
  static boolean serves(INDArray base, List<INDArray> terms, INDArray out) {
    if (!OneDnn.enabled() || !plain(base) || !plain(out) || out.length() != base.length()) {
      return false;
    }
    for (INDArray t : terms) {
      if (!plain(t) || t.length() != base.length()) {
        return false;
      }
    }
    return true;
  }

  private static boolean plain(INDArray a) {
    return Nd4jArrays.dtypeOf(a) == DType.FLOAT32 && !a.isView() && a.ordering() == 'c';
  }

  /** Writes {@code base + Σ cᵢ·termsᵢ} into {@code out}, terms of coefficient 0 left out. */
  static void compute(INDArray base, double[] c, List<INDArray> terms, INDArray out) {
    int used = 0;
    for (double ci : c) {
      used += ci == 0 ? 0 : 1;
    }
    float[] scales = new float[used + 1];
    INDArray[] sources = new INDArray[used + 1];
    scales[0] = 1f;
    sources[0] = base;
    for (int i = 0, j = 1; i < c.length; i++) {
      if (c[i] != 0) {
        scales[j] = (float) c[i];
        sources[j++] = terms.get(i);
      }
    }
    run(scales, sources, out);
  }

  /**
   * Writes {@code s·x} into {@code out} ({@link #serves} with no terms): one pass, one rounding.
   */
  static void scale(INDArray x, double s, INDArray out) {
    run(new float[] {(float) s}, new INDArray[] {x}, out);
  }

  /** {@code out = Σ scalesⱼ·sourcesⱼ}. */
  private static void run(float[] scales, INDArray[] sources, INDArray out) {
    INDArray base = sources[0];
    Key key = new Key(base.length(), scales);
    dnnl_primitive cached = CACHE.get(key);
    dnnl_primitive p = cached != null ? cached : compile(key);
    try {
      dnnl_memory_desc_t vector = vector(base.length());
      int[] ids = new int[sources.length + 1];
      dnnl_memory[] memories = new dnnl_memory[sources.length + 1];
      for (int j = 0; j < sources.length; j++) {
        ids[j] = DNNL_ARG_MULTIPLE_SRC + j;
        memories[j] = OneDnn.memory(vector, OneDnn.address(sources[j]));
      }
      ids[sources.length] = DNNL_ARG_DST;
      memories[sources.length] = OneDnn.memory(vector, OneDnn.address(out));
      OneDnn.execute(
          p,
          ids,
          memories,
          "sum of " + sources.length + " vectors of " + base.length() + " values");
    } finally {
      if (cached == null && (CACHE.size() >= CACHED || CACHE.putIfAbsent(key, p) != null)) {
        dnnl_primitive_destroy(p);
      }
    }
  }

  private static dnnl_memory_desc_t vector(long length) {
    return OneDnn.desc(new long[] {length}, dnnl_a);
  }

  private static dnnl_primitive compile(Key key) {
    int n = key.scales().length;
    dnnl_memory_desc_t sources = new dnnl_memory_desc_t(n);
    for (int j = 0; j < n; j++) {
      OneDnn.check(
          dnnl_memory_desc_init_by_tag(
              sources.getPointer(j), 1, new long[] {key.length()}, dnnl_f32, dnnl_a),
          "dnnl_memory_desc_init_by_tag(sum source " + j + ")");
    }
    dnnl_primitive_desc pd = new dnnl_primitive_desc();
    OneDnnThreads.onThisThread();
    OneDnn.check(
        dnnl_sum_primitive_desc_create(
            pd,
            vector(key.length()),
            n,
            key.scales(),
            sources,
            OneDnn.attributes(),
            OneDnn.engine()),
        "dnnl_sum_primitive_desc_create(" + n + " vectors of " + key.length() + " values)");
    try {
      return OneDnn.primitive(pd, "sum of " + n + " vectors");
    } finally {
      dnnl_primitive_desc_destroy(pd);
    }
  }
}
