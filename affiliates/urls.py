"""Partner API routes of the affiliate program, mounted at /api/v1/."""

from django.urls import path

from affiliates import apis

urlpatterns = [
    path("referral-codes", apis.ReferralCodeListCreateApi.as_view(), name="referral-codes"),
    path("referral-codes/<str:code>", apis.ReferralCodeDetailApi.as_view(), name="referral-code"),
    path("referrals", apis.ReferralListApi.as_view(), name="referrals"),
    path("commissions", apis.CommissionListApi.as_view(), name="commissions"),
    path("payouts", apis.PayoutListApi.as_view(), name="payouts"),
    path("payouts/<str:payout_id>", apis.PayoutDetailApi.as_view(), name="payout"),
]
