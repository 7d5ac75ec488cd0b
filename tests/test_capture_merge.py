"""Oscar's own basket merges, outside a request and inside the caller's
transaction, must commit cleanly with capture installed (PostgreSQL checks the journey's
deferred foreign key at commit; SQLite does too).

The worst a caller can do here is ordinary Oscar code: merge baskets holding vouchers in a
service or task, delete the merged basket, and commit. Capture must never be the reason that
commit fails, nor move a guest's journey to a basket that was not part of the merge.
"""

import pytest
from django.db import transaction
from oscar.test import factories

from oscar_recovery.models import CartJourney
from tests.support.journeys import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)


def basket_with_voucher(code: str, product=None):
    basket = factories.create_basket(empty=True)
    if product is not None:
        basket.add_product(product)
    basket.vouchers.add(make_voucher(code))
    return basket


def test_merging_voucher_baskets_in_one_transaction_commits(product):
    master = basket_with_voucher("MASTER1", product)
    slave = basket_with_voucher("SLAVE1", product)

    with transaction.atomic():
        master.merge(slave)
        slave.delete()  # what services that merge outside a request do next

    journeys = list(CartJourney.objects.order_by("pk"))
    assert [j.basket_id for j in journeys if j.basket_id] == [master.pk]
    assert master.vouchers.count() == 2


def test_a_line_noted_by_an_earlier_transaction_is_not_taken_for_the_master(product):
    """The master of a merge is the basket whose lines moved in that merge; a basket whose
    lines changed in an earlier transaction (and that is gone since) is not it."""
    with transaction.atomic():
        elsewhere = factories.create_basket(empty=True)
        elsewhere.add_product(product)
    elsewhere.delete()
    master = factories.create_basket(empty=True)
    slave = basket_with_voucher("ONLYVOUCHER")  # no lines: the merge moves none
    guest_journey = CartJourney.objects.get(basket_id=slave.pk)

    with transaction.atomic():
        master.merge(slave)

    guest_journey.refresh_from_db()
    assert guest_journey.basket_id in (slave.pk, master.pk)
    assert CartJourney.objects.filter(basket_id=master.pk).exists()  # its voucher was noted


def test_a_merge_into_a_basket_deleted_in_the_same_transaction_commits(product):
    master = factories.create_basket(empty=True)
    slave = basket_with_voucher("SLAVE2", product)

    with transaction.atomic():
        master.merge(slave)
        master.delete()
        slave.delete()

    assert not CartJourney.objects.filter(basket__isnull=False).exists()
