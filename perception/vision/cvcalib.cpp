#include <opencv2/core.hpp>
#include <opencv2/calib3d.hpp>
#include "cvcalib.h"

int catch_project_points(const double* xyz, int n, const double* rvec, const double* tvec,
                         const double* k, const double* d, int nd, double* uv) {
    try {
        cv::Mat obj(n, 1, CV_64FC3, const_cast<double*>(xyz));
        cv::Mat r(3, 1, CV_64F, const_cast<double*>(rvec));
        cv::Mat t(3, 1, CV_64F, const_cast<double*>(tvec));
        cv::Mat K(3, 3, CV_64F, const_cast<double*>(k));
        cv::Mat D(1, nd, CV_64F, const_cast<double*>(d));
        cv::Mat out(n, 1, CV_64FC2, uv);
        cv::projectPoints(obj, r, t, K, D, out);
        if (out.data != reinterpret_cast<uchar*>(uv)) return -1;
        return 0;
    } catch (...) {
        return -2;
    }
}

int catch_undistort_points(const double* uv, int n, const double* k, const double* d, int nd,
                           int maxCount, double eps, double* xy) {
    try {
        cv::Mat src(n, 1, CV_64FC2, const_cast<double*>(uv));
        cv::Mat K(3, 3, CV_64F, const_cast<double*>(k));
        cv::Mat D(1, nd, CV_64F, const_cast<double*>(d));
        cv::Mat out(n, 1, CV_64FC2, xy);
        int type = cv::TermCriteria::COUNT;
        if (eps > 0) type |= cv::TermCriteria::EPS;
        cv::undistortPoints(src, out, K, D, cv::noArray(), cv::noArray(),
                            cv::TermCriteria(type, maxCount, eps));
        if (out.data != reinterpret_cast<uchar*>(xy)) return -1;
        return 0;
    } catch (...) {
        return -2;
    }
}

void catch_set_num_threads(int n) { cv::setNumThreads(n); }
