package org.anode.cli.bench;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One measured configuration of {@code anode bench}: its step time, the tape's peak saved bytes,
 * the peak live bytes, {@code MemoryBudget}'s prediction, the process's peak RSS and f evaluations
 * per step; ratios to store-all of the same run. Negative bytes mean "not measured".
 */
public record BenchResult(
    String backend,
    String solver,
    int steps,
    String method,
    double seconds,
    long peakSavedBytes,
    long peakLiveBytes,
    long predictedBytes,
    long peakRssBytes,
    double forwardEvaluations,
    double backwardEvaluations,
    double timeRatio,
    double bytesRatio) {

  /** The fields under the names of the CSV and JSON outputs, in their order. */
  Map<String, Object> fields() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("backend", backend);
    m.put("solver", solver);
    m.put("nt", steps);
    m.put("method", method);
    m.put("step_seconds", seconds);
    m.put("time_ratio_to_store_all", timeRatio);
    m.put("peak_saved_bytes", peakSavedBytes);
    m.put("peak_live_bytes", peakLiveBytes);
    m.put("predicted_bytes", predictedBytes);
    m.put("bytes_ratio_to_store_all", bytesRatio);
    m.put("peak_rss_bytes", peakRssBytes);
    m.put("f_evals_forward", forwardEvaluations);
    m.put("f_evals_backward", backwardEvaluations);
    return m;
  }

  /** This result with its time and saved-bytes ratios to {@code base}'s. */
  BenchResult relativeTo(BenchResult base) {
    return new BenchResult(
        backend,
        solver,
        steps,
        method,
        seconds,
        peakSavedBytes,
        peakLiveBytes,
        predictedBytes,
        peakRssBytes,
        forwardEvaluations,
        backwardEvaluations,
        seconds / base.seconds,
        (double) peakSavedBytes / base.peakSavedBytes);
  }

  /** The CSV header, the keys of {@link #fields()}. */
  static final String CSV_HEADER =
      "backend,solver,nt,method,step_seconds,time_ratio_to_store_all,peak_saved_bytes,"
          + "peak_live_bytes,predicted_bytes,bytes_ratio_to_store_all,peak_rss_bytes,"
          + "f_evals_forward,f_evals_backward";

  /** One CSV line, the values of {@link #fields()}. */
  String csv() {
    return String.format(
        Locale.ROOT,
        "%s,%s,%d,%s,%.6f,%.4f,%d,%d,%d,%.4f,%d,%.1f,%.1f",
        backend,
        solver,
        steps,
        method,
        seconds,
        timeRatio,
        peakSavedBytes,
        peakLiveBytes,
        predictedBytes,
        bytesRatio,
        peakRssBytes,
        forwardEvaluations,
        backwardEvaluations);
  }
}
