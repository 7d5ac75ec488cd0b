"""Retargeting audiences and their members (new tables only: nothing busy is locked)."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('oscar_recovery', '0029_builtin_segments'),
    ]

    operations = [
        migrations.CreateModel(
            name='Audience',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=128, verbose_name='name')),
                ('slug', models.SlugField(max_length=64, unique=True, verbose_name='slug')),
                ('exclude_buyers_days', models.PositiveIntegerField(blank=True, help_text='Leave out anyone who placed an order less than this many days ago (empty: nobody is left out for ordering).', null=True, verbose_name='leave out buyers of the last N days')),
                ('is_active', models.BooleanField(default=True, verbose_name='active')),
                ('sync_meta', models.BooleanField(default=False, verbose_name='sync to Meta Custom Audiences')),
                ('sync_google', models.BooleanField(default=False, verbose_name='sync to Google Customer Match')),
                ('meta_external_id', models.CharField(blank=True, max_length=64, verbose_name='Meta audience id')),
                ('google_external_id', models.CharField(blank=True, max_length=128, verbose_name='Google user list id')),
                ('ttl_days', models.PositiveIntegerField(default=540, help_text='How long a platform keeps a member after its last upload (Google allows at most 540). Members are uploaded again 30 days before it runs out.', validators=[django.core.validators.MinValueValidator(31), django.core.validators.MaxValueValidator(540)], verbose_name='membership duration (days)')),
                ('last_sync_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='last sync at')),
                ('last_sync_status', models.CharField(choices=[('never', 'Never synced'), ('ok', 'Synced'), ('failed', 'Failed, will retry'), ('held', 'Failed, needs attention')], default='never', editable=False, max_length=8, verbose_name='last sync')),
                ('last_errors', models.JSONField(blank=True, default=dict, editable=False, verbose_name='last errors')),
                ('failure_count', models.PositiveIntegerField(default=0, editable=False, verbose_name='failures in a row')),
                ('next_attempt_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='next attempt at')),
                ('held', models.BooleanField(default=False, editable=False, verbose_name='held after a permanent error')),
                ('member_count', models.PositiveIntegerField(default=0, editable=False, verbose_name='members')),
                ('sync_claimed_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                ('segment', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='audiences', to='oscar_recovery.segment', verbose_name='segment')),
            ],
            options={
                'verbose_name': 'audience',
                'verbose_name_plural': 'audiences',
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='AudienceMember',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('destination', models.CharField(choices=[('csv', 'CSV download'), ('meta', 'Meta Custom Audiences'), ('google', 'Google Customer Match')], max_length=8, verbose_name='destination')),
                ('email_sha256', models.CharField(blank=True, max_length=64, verbose_name='email SHA-256')),
                ('phone_sha256', models.CharField(blank=True, max_length=64, verbose_name='phone SHA-256')),
                ('suppression_hash', models.CharField(blank=True, editable=False, max_length=64)),
                ('desired', models.BooleanField(default=True, verbose_name='should be in the list')),
                ('synced_state', models.CharField(choices=[('none', 'Never sent'), ('added', 'Added'), ('removed', 'Removed')], default='none', max_length=8, verbose_name='platform state')),
                ('synced_at', models.DateTimeField(blank=True, null=True, verbose_name='last sent at')),
                ('changed_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='changed at')),
                ('last_error', models.TextField(blank=True, verbose_name='last error')),
                ('audience', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='members', to='oscar_recovery.audience', verbose_name='audience')),
                ('contact', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='audience_members', to='oscar_recovery.contact', verbose_name='contact')),
            ],
            options={
                'verbose_name': 'audience member',
                'verbose_name_plural': 'audience members',
                'indexes': [models.Index(fields=['audience', 'destination', 'desired', 'synced_state'], name='recovery_audmember_sync_idx'), models.Index(fields=['contact'], name='recovery_audmember_contact_idx'), models.Index(fields=['audience', 'destination', 'email_sha256'], name='recovery_audmember_hash_idx')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('contact__isnull', False)), fields=('audience', 'destination', 'contact'), name='recovery_audience_member_uniq')],
            },
        ),
    ]
