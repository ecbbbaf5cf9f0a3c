//! Phi accrual detector (stub).
