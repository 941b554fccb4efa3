package org.anode.backend.nd4j;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.dnnl_a;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_backward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_relu_use_dst_for_bwd;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.anode.api.DType;
import org.bytedeco.dnnl.dnnl_eltwise_desc_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * ReLU's gradient from its output, {@code gx = g where y > 0, else 0}, in one pass over memory on
 * oneDNN's eltwise primitive ({@code relu_use_dst_for_bwd}, float32). The operands are read as flat
 * vectors, so any storage layout serves as long as all three share it (an elementwise op's operands
 * do: {@link Nd4jElementwise#binary}). libnd4j's route takes two passes: the mask, then the
 * product.
 */
final class OneDnnReluBackward {
  private record Compiled(dnnl_primitive primitive, dnnl_memory_desc_t vector) {}

  private static final Map<Long, Compiled> CACHE = new ConcurrentHashMap<>();

  private OneDnnReluBackward() {}

  /** Whether this class serves the operands: float32 C-ordered storage of equal length. */
  static boolean serves(INDArray y, INDArray g, INDArray gx) {
    return OneDnn.enabled()
        && Nd4jArrays.dtypeOf(y) == DType.FLOAT32
        && Nd4jArrays.dtypeOf(g) == DType.FLOAT32
        && y.length() == g.length()
        && y.length() == gx.length()
        && plain(y)
        && plain(g)
        && plain(gx);
  }

  private static boolean plain(INDArray a) {
    return !a.isView() && a.ordering() == 'c';
  }

  static void compute(INDArray y, INDArray g, INDArray gx) {
    Compiled c = CACHE.computeIfAbsent(y.length(), OneDnnReluBackward::compile);
    OneDnn.execute(
        c.primitive(),
        new int[] {DNNL_ARG_DST, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC},
        new dnnl_memory[] {
          OneDnn.memory(c.vector(), OneDnn.address(y)),
          OneDnn.memory(c.vector(), OneDnn.address(g)),
          OneDnn.memory(c.vector(), OneDnn.address(gx))
        },
        "ReLU backward of " + y.length() + " values");
  }

  private static Compiled compile(long length) {
    dnnl_memory_desc_t md = OneDnn.desc(new long[] {length}, dnnl_a);
    dnnl_eltwise_desc_t forward = new dnnl_eltwise_desc_t();
    OneDnn.check(
        dnnl_eltwise_forward_desc_init(
            forward, dnnl_forward_training, dnnl_eltwise_relu_use_dst_for_bwd, md, 0f, 0f),
        "ReLU forward descriptor of " + length + " values");
    dnnl_primitive_desc hint = OneDnn.primitiveDesc(forward, null, "ReLU forward");
    dnnl_eltwise_desc_t backward = new dnnl_eltwise_desc_t();
    OneDnn.check(
        dnnl_eltwise_backward_desc_init(
            backward, dnnl_eltwise_relu_use_dst_for_bwd, md, md, 0f, 0f),
        "ReLU backward descriptor of " + length + " values");
    dnnl_primitive_desc pd = OneDnn.primitiveDesc(backward, hint, "ReLU backward");
    return new Compiled(OneDnn.primitive(pd, "ReLU backward of " + length + " values"), md);
  }
}
