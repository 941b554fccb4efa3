package org.anode.backend.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import org.anode.api.Conv2dSpec;

/**
 * libtorch's convolution backward kernels ({@code aten::convolution_backward}) called directly,
 * through a TorchScript module whose forward is that one operation: the input and weight gradients
 * from the upstream gradient, without running the forward convolution again.
 *
 * <p>Why: DJL has no NDArray op for a convolution's gradients, so the backend used to re-run the
 * convolution on aliases that require gradients and sweep it — one forward convolution more per
 * backward, a quarter of a training step's convolution work. The module ({@value #RESOURCE}) is
 * written by {@code src/main/python/convolution_backward.py} with Debian's {@code python3-torch}
 * (1.13); libtorch 2.7.1 loads it (TorchScript archives load in later versions).
 */
final class LibtorchConvolutionBackward {
  static final String RESOURCE = "convolution_backward.pt";

  private static volatile PtSymbolBlock module;

  private LibtorchConvolutionBackward() {}

  /**
   * The input gradient (when {@code input}) and weight gradient (when {@code weight}) of {@code
   * conv(x, w)} from {@code g}; null for one not asked for. New arrays of {@code x}'s manager.
   */
  static NDArray[] run(
      NDArray x, NDArray w, NDArray g, Conv2dSpec s, boolean input, boolean weight) {
    PtNDManager manager = (PtNDManager) x.getManager();
    IValue[] args = {
      IValue.from((PtNDArray) g),
      IValue.from((PtNDArray) x),
      IValue.from((PtNDArray) w),
      IValue.listFrom(s.strideH(), s.strideW()),
      IValue.listFrom(s.padH(), s.padW()),
      IValue.listFrom(s.dilationH(), s.dilationW()),
      IValue.from((long) s.groups()),
      IValue.from(input),
      IValue.from(weight)
    };
    try (IValue out = module(manager).forward(args)) {
      IValue[] pair = out.toIValueTuple();
      try {
        return new NDArray[] {
          input ? pair[0].toTensor(manager) : null, weight ? pair[1].toTensor(manager) : null
        };
      } finally {
        for (IValue v : pair) {
          v.close();
        }
      }
    } finally {
      for (IValue a : args) {
        a.close();
      }
    }
  }

  private static PtSymbolBlock module(PtNDManager manager) {
    PtSymbolBlock m = module;
    if (m == null) {
      synchronized (LibtorchConvolutionBackward.class) {
        if (module == null) {
          module = load(manager);
        }
        m = module;
      }
    }
    return m;
  }

  private static PtSymbolBlock load(PtNDManager manager) {
    try (InputStream in = LibtorchConvolutionBackward.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("djl: resource " + RESOURCE + " is missing from the jar");
      }
      // No parameters: the module lives as long as the process, on the top-most manager.
      return ai.djl.pytorch.jni.JniUtils.loadModule(topOf(manager), in, false, false);
    } catch (IOException e) {
      throw new UncheckedIOException("djl: cannot load " + RESOURCE, e);
    }
  }

  private static PtNDManager topOf(PtNDManager manager) {
    ai.djl.ndarray.NDManager m = manager;
    while (m.getParentManager() != null && m.getParentManager() instanceof PtNDManager) {
      m = m.getParentManager();
    }
    return (PtNDManager) m;
  }
}
