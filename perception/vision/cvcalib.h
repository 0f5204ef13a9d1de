#ifndef CATCH_VISION_CVCALIB_H
#define CATCH_VISION_CVCALIB_H
#ifdef __cplusplus
extern "C" {
#endif
// catch_project_points projects n world points (xyz, row-major) with OpenCV's
// cv::projectPoints into uv (2n). rvec, tvec: world→camera; k: 3×3; d: nd coefficients.
int catch_project_points(const double* xyz, int n, const double* rvec, const double* tvec,
                         const double* k, const double* d, int nd, double* uv);
// catch_undistort_points runs cv::undistortPoints on n pixels with an explicit
// criterion (maxCount iterations, eps; eps <= 0 means a count-only criterion).
int catch_undistort_points(const double* uv, int n, const double* k, const double* d, int nd,
                           int maxCount, double eps, double* xy);
// catch_set_num_threads sets OpenCV's worker threads (cv::setNumThreads).
void catch_set_num_threads(int n);
#ifdef __cplusplus
}
#endif
#endif
