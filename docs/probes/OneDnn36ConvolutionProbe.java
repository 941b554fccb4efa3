/*
 * Times oneDNN 3.6.1's float32 convolution primitives on the bench's shape ([32, 64, 32, 32] *
 * [64, 64, 3, 3], stride 1, padding 1) in two activation layouts, alternating them in one process,
 * and prints the implementation oneDNN picked for each. Not part of the build: anode pins oneDNN
 * 2.7.1; this asks whether 3.6.1 (the presets built for the pinned JavaCPP 1.5.11) has faster
 * kernels for an AVX2-only CPU. Run (docs/fused-kernels.md, "oneDNN 3.6 and a hand-made Winograd"):
 *
 *   R=~/.m2/repository/org/bytedeco
 *   for a in dnnl:3.6.1-1.5.11 dnnl:3.6.1-1.5.11:jar:linux-x86_64 opencl:3.0-1.5.11 \
 *       opencl:3.0-1.5.11:jar:linux-x86_64; do
 *     mvn -q dependency:get -Dartifact=org.bytedeco:$a -Dtransitive=false; done
 *   CP=$R/dnnl/3.6.1-1.5.11/dnnl-3.6.1-1.5.11.jar:$R/dnnl/3.6.1-1.5.11/dnnl-3.6.1-1.5.11-linux-x86_64.jar
 *   CP=$CP:$R/opencl/3.0-1.5.11/opencl-3.0-1.5.11.jar:$R/opencl/3.0-1.5.11/opencl-3.0-1.5.11-linux-x86_64.jar
 *   CP=$CP:$R/javacpp/1.5.11/javacpp-1.5.11.jar:$R/javacpp/1.5.11/javacpp-1.5.11-linux-x86_64.jar
 *   javac -cp $CP -d /tmp/probe docs/probes/OneDnn36ConvolutionProbe.java
 *   java -cp /tmp/probe:$CP OneDnn36ConvolutionProbe
 */
import static org.bytedeco.dnnl.global.dnnl.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.bytedeco.dnnl.*;
import org.bytedeco.javacpp.*;

public class OneDnn36ConvolutionProbe {
  static dnnl_engine engine;
  static dnnl_stream stream;

  static void check(int status, String call) {
    if (status != dnnl_success) {
      throw new IllegalStateException(call + " failed with status " + status);
    }
  }

  static dnnl_memory_desc desc(long[] dims, int tag) {
    dnnl_memory_desc md = new dnnl_memory_desc();
    check(dnnl_memory_desc_create_with_tag(md, dims.length, dims, dnnl_f32, tag), "desc");
    return md;
  }

  static dnnl_memory memory(dnnl_memory_desc md) {
    FloatPointer data = new FloatPointer(dnnl_memory_desc_get_size(md) / Float.BYTES);
    for (long i = 0; i < data.capacity(); i++) {
      data.put(i, (float) Math.sin(i));
    }
    dnnl_memory m = new dnnl_memory();
    check(dnnl_memory_create(m, md, engine, data), "memory");
    return m;
  }

  static String implementation(dnnl_primitive_desc pd) {
    PointerPointer<BytePointer> p = new PointerPointer<>(1);
    check(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, p), "query");
    return p.get(BytePointer.class, 0).getString();
  }

  static dnnl_primitive primitive(dnnl_primitive_desc pd) {
    dnnl_primitive p = new dnnl_primitive();
    check(dnnl_primitive_create(p, pd), "primitive");
    return p;
  }

  /** Median milliseconds of {@code calls} executions. */
  static double time(dnnl_primitive p, int[] ids, dnnl_memory[] memories, int calls) {
    dnnl_exec_arg_t args = new dnnl_exec_arg_t(ids.length);
    for (int i = 0; i < ids.length; i++) {
      args.position(i).arg(ids[i]).memory(memories[i]);
    }
    args.position(0);
    long[] t = new long[calls];
    for (int r = 0; r < calls; r++) {
      long t0 = System.nanoTime();
      check(dnnl_primitive_execute(p, stream, ids.length, args), "execute");
      check(dnnl_stream_wait(stream), "wait");
      t[r] = System.nanoTime() - t0;
    }
    Arrays.sort(t);
    return t[calls / 2] / 1e6;
  }

  public static void main(String[] a) {
    engine = new dnnl_engine();
    check(dnnl_engine_create(engine, dnnl_cpu, 0), "engine");
    stream = new dnnl_stream();
    check(dnnl_stream_create(stream, engine, dnnl_stream_default_flags), "stream");
    int[] tags = {dnnl_aBcd8b, dnnl_acdb};
    String[] names = {"nChw8c", "nhwc"};
    long[] xd = {32, 64, 32, 32};
    long[] wd = {64, 64, 3, 3};
    long[] stride = {1, 1};
    long[] dilation = {0, 0};
    long[] pad = {1, 1};
    int[][] ids = {
      {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
      {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
      {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS}
    };
    dnnl_primitive[][] p = new dnnl_primitive[2][];
    dnnl_memory[][][] m = new dnnl_memory[2][][];
    for (int k = 0; k < 2; k++) {
      dnnl_memory_desc x = desc(xd, tags[k]);
      dnnl_memory_desc y = desc(xd, tags[k]);
      dnnl_memory_desc w = desc(wd, dnnl_format_tag_any);
      dnnl_primitive_desc f = new dnnl_primitive_desc();
      check(
          dnnl_convolution_forward_primitive_desc_create(
              f, engine, dnnl_forward_training, dnnl_convolution_direct, x, w, null, y, stride,
              dilation, pad, pad, null),
          "forward");
      dnnl_primitive_desc bd = new dnnl_primitive_desc();
      check(
          dnnl_convolution_backward_data_primitive_desc_create(
              bd, engine, dnnl_convolution_direct, x, w, y, stride, dilation, pad, pad, f, null),
          "backward data");
      dnnl_primitive_desc bw = new dnnl_primitive_desc();
      check(
          dnnl_convolution_backward_weights_primitive_desc_create(
              bw, engine, dnnl_convolution_direct, x, w, null, y, stride, dilation, pad, pad, f,
              null),
          "backward weights");
      dnnl_memory xm = memory(x);
      dnnl_memory ym = memory(y);
      dnnl_memory wf = memory(dnnl_primitive_desc_query_md(f, dnnl_query_weights_md, 0));
      dnnl_memory wb = memory(dnnl_primitive_desc_query_md(bd, dnnl_query_weights_md, 0));
      dnnl_memory gw = memory(dnnl_primitive_desc_query_md(bw, dnnl_query_diff_weights_md, 0));
      p[k] = new dnnl_primitive[] {primitive(f), primitive(bd), primitive(bw)};
      m[k] = new dnnl_memory[][] {{xm, wf, ym}, {ym, wb, xm}, {xm, ym, gw}};
      System.out.println(
          names[k] + ": " + implementation(f) + " / " + implementation(bd) + " / "
              + implementation(bw));
    }
    List<List<Double>> t = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      t.add(new ArrayList<>());
    }
    for (int round = 0; round < 12; round++) {
      for (int k = 0; k < 2; k++) {
        for (int j = 0; j < 3; j++) {
          t.get(k * 3 + j).add(time(p[k][j], ids[j], m[k][j], 9));
        }
      }
    }
    System.out.println("median ms over 12 rounds: forward, input gradient, weight gradient");
    for (int k = 0; k < 2; k++) {
      StringBuilder line = new StringBuilder(names[k]);
      for (int j = 0; j < 3; j++) {
        List<Double> l = t.get(k * 3 + j);
        Collections.sort(l);
        line.append(String.format(" %.2f", l.get(l.size() / 2)));
      }
      System.out.println(line);
    }
  }
}
